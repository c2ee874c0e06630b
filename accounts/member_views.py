"""The members page and its actions: invite, change a role, remove, and revoke or resend an invitation.

Role changes, removals and revocations go through a confirmation step (``confirmation.py``): the list's
buttons open it, and only its form, which carries ``confirm=yes``, acts.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from medilens.form_errors import add_form_errors

from . import invitation_services, services
from .access import OrganizationMixin
from .confirmation import confirmation_page, error_messages, is_confirmed, perform
from .forms import InviteForm, RoleForm
from .mfa.policy import factor_user_ids
from .models import Invitation, Membership
from .selectors import organization_members, organization_open_invitations


def _members_url() -> str:
    return reverse("accounts:members")


class MembersView(OrganizationMixin, View):
    required_permission = "members.manage"
    template_name = "accounts/members.html"

    def get(self, request, invite_form=None, status=200, new_link=None):
        members = list(organization_members(request.organization))
        response = render(
            request,
            self.template_name,
            {
                "members": members,
                "users_with_factor": factor_user_ids(member.user_id for member in members),
                "invitations": organization_open_invitations(request.organization),
                "invite_form": invite_form or InviteForm(),
                "role_form": RoleForm(),
                "new_link": new_link,
            },
            status=status,
        )
        if new_link:
            # The link is a credential until it is used: shown on this response only, never cached.
            response["Cache-Control"] = "no-store"
        return response

    def post(self, request):
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                services.invite(
                    acting_user=request.user,
                    organization=request.organization,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
                return redirect("accounts:members")
        return self.get(request, invite_form=form, status=400)


class MemberRoleView(OrganizationMixin, View):
    """GET (the list's role picker submits here) or an unconfirmed POST: the confirmation page."""

    required_permission = "members.manage"

    def dispatch_role(self, request, pk, data):
        membership = get_object_or_404(Membership, pk=pk)
        form = RoleForm(data)
        if not form.is_valid():
            messages.error(request, "Choose one of the listed roles.")
            return redirect("accounts:members")
        role = form.cleaned_data["role"]
        if not is_confirmed(request):
            label = dict(form.fields["role"].choices)[role]
            return confirmation_page(
                request,
                title="Change role",
                question=f"Change the role of {membership.user.email} from {membership.get_role_display()} to {label}?",
                consequences="What they can see and do in this organization changes at their next page.",
                confirm_label=f"Make them {label}",
                cancel_url=_members_url(),
                hidden={"role": role},
                danger=False,
            )
        return perform(
            request,
            lambda: services.change_role(
                acting_user=request.user, organization=request.organization, membership=membership, role=role
            ),
            missing=Membership.DoesNotExist,
            not_found="No such member.",
            # The service returns the updated row: the message must name the new role, not the old one.
            success=lambda updated: f"{updated.user.email} is now {updated.get_role_display()}.",
            then=_members_url(),
        )

    def get(self, request, pk):
        return self.dispatch_role(request, pk, request.GET)

    def post(self, request, pk):
        return self.dispatch_role(request, pk, request.POST)


class MemberRemoveView(OrganizationMixin, View):
    required_permission = "members.manage"

    def get(self, request, pk):
        return self.post(request, pk)

    def post(self, request, pk):
        membership = get_object_or_404(Membership, pk=pk)
        if not is_confirmed(request):
            return confirmation_page(
                request,
                title="Remove member",
                question=f"Remove {membership.user.email} from {request.organization.name}?",
                consequences="They lose access at once. Their account and everything they recorded stay; "
                "invite them again to give access back.",
                confirm_label="Remove access",
                cancel_url=_members_url(),
            )
        return perform(
            request,
            lambda: services.remove_membership(
                acting_user=request.user, organization=request.organization, membership=membership
            ),
            missing=Membership.DoesNotExist,
            not_found="No such member.",
            success=f"{membership.user.email} no longer has access to this organization.",
            then=_members_url(),
        )


class InvitationRevokeView(OrganizationMixin, View):
    required_permission = "members.manage"

    def get(self, request, pk):
        return self.post(request, pk)

    def post(self, request, pk):
        invitation = get_object_or_404(Invitation, pk=pk)
        if not is_confirmed(request):
            return confirmation_page(
                request,
                title="Revoke invitation",
                question=f"Revoke the invitation of {invitation.email}?",
                consequences="Its link stops working. You can invite the same address again later.",
                confirm_label="Revoke invitation",
                cancel_url=_members_url(),
            )
        return perform(
            request,
            lambda: services.revoke_invitation(
                acting_user=request.user, organization=request.organization, invitation=invitation
            ),
            missing=Invitation.DoesNotExist,
            not_found="No such invitation.",
            success=f"Invitation of {invitation.email} revoked.",
            then=_members_url(),
        )


class InvitationResendView(OrganizationMixin, View):
    """A new link, emailed again and shown once on the members page with a button to copy it."""

    required_permission = "members.manage"

    def post(self, request, pk):
        invitation = get_object_or_404(Invitation, pk=pk)
        try:
            invitation, token = invitation_services.resend_invitation(
                acting_user=request.user, organization=request.organization, invitation=invitation
            )
        except Invitation.DoesNotExist:
            raise Http404("No such invitation.") from None
        except ValidationError as error:
            for message in error_messages(error):
                messages.error(request, message)
            return redirect("accounts:members")
        messages.success(
            request, f"A new invitation link was sent to {invitation.email}; the previous link no longer works."
        )
        new_link = {"email": invitation.email, "url": invitation_services.invitation_link(token)}
        return MembersView(request=request).get(request, new_link=new_link)
