from .roles import permissions_for


def portal(request):
    membership = getattr(request, "membership", None)
    return {
        "active_organization": getattr(request, "organization", None),
        "active_membership": membership,
        "memberships": getattr(request, "memberships", []),
        "perms_for_role": permissions_for(membership.role if membership else None),
    }
