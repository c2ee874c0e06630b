"""Roles and what each may do: written once here, rendered as the table in README.md.

Views and API endpoints name the permission they need (``required_permission``); nothing else decides
who may do what.
"""

from django.db import models


class Role(models.TextChoices):
    ORG_ADMIN = "org_admin", "Organization admin"
    CLINICIAN = "clinician", "Clinician"
    TECHNICIAN = "technician", "Technician"
    AUDITOR = "auditor", "Auditor"


_ADMIN = Role.ORG_ADMIN
_CLIN = Role.CLINICIAN
_TECH = Role.TECHNICIAN
_AUDIT = Role.AUDITOR
# API clients act as a clinician or read-only; read-only is not a member role.
API_READ_ONLY = "read_only"
_RO = API_READ_ONLY

# permission -> (description, roles that hold it)
PERMISSIONS: dict[str, tuple[str, frozenset[str]]] = {
    "dashboard.view": ("See the organization dashboard", frozenset({_ADMIN, _CLIN, _TECH, _AUDIT})),
    "patients.view": ("List and open patients", frozenset({_ADMIN, _CLIN, _TECH, _AUDIT, _RO})),
    "patients.edit": ("Create and edit patients", frozenset({_ADMIN, _CLIN, _TECH})),
    "assessments.view": ("See assessments and their status", frozenset({_ADMIN, _CLIN, _TECH, _AUDIT, _RO})),
    "assessments.create": ("Create assessments and upload inputs", frozenset({_ADMIN, _CLIN, _TECH})),
    "assessments.view_results": (
        "See results: biomarkers, scores, explanations, input files",
        frozenset({_ADMIN, _CLIN, _AUDIT, _RO}),
    ),
    "assessments.manage": ("Cancel, retry and re-analyse assessments", frozenset({_ADMIN, _CLIN})),
    "assessments.sign_off": ("Sign off results", frozenset({_ADMIN, _CLIN})),
    "discussion.post": ("Post in an assessment's discussion", frozenset({_ADMIN, _CLIN})),
    "members.manage": ("Invite members, change roles, remove members", frozenset({_ADMIN})),
    "api_clients.manage": ("Create and revoke API clients", frozenset({_ADMIN})),
    "settings.manage": ("Change organization settings", frozenset({_ADMIN})),
    "audit.view": ("Read and export the audit log", frozenset({_ADMIN, _AUDIT})),
    "notifications.manage": (
        "Mark their own notifications read; choose which are emailed",
        frozenset({_ADMIN, _CLIN, _TECH}),
    ),
    "retention.manage": (
        "See who retention will purge; place and release legal holds",
        frozenset({_ADMIN}),
    ),
    # An endpoint receives patient data: API clients hold it only when an org admin grants it
    # (``ApiClient.may_manage_webhooks``), never through their access level.
    "webhooks.manage": ("Manage webhook endpoints and their deliveries", frozenset({_ADMIN})),
    # Public reference data (facilities, medicines): every member and every key reads it.
    "directory.view": (
        "Search the reference directory of facilities and medicines",
        frozenset({_ADMIN, _CLIN, _TECH, _AUDIT, _RO}),
    ),
}

# Permissions an org admin may grant to one API client on top of its access level.
GRANTABLE_TO_API_CLIENTS = frozenset({"webhooks.manage"})


def role_has(role: str | None, permission: str) -> bool:
    """Unknown permissions are refused: a typo in a view must fail closed, not open."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role is not None and role in PERMISSIONS[permission][1]


def permissions_for(role: str | None) -> frozenset[str]:
    return frozenset(name for name, (_, roles) in PERMISSIONS.items() if role in roles)


def markdown_table() -> str:
    """The role table shown in README.md (a test keeps README in step with this module)."""
    roles = [r.value for r in Role] + [API_READ_ONLY]
    header = "| permission | " + " | ".join(f"`{r}`" for r in roles[:-1]) + " | API `read_only` |"
    rule = "|---|" + "---|" * len(roles)
    rows = [
        f"| {description} (`{name}`) | "
        + " | ".join("yes" if r in holders else "-" for r in roles)
        + " |"
        for name, (description, holders) in PERMISSIONS.items()
    ]
    return "\n".join([header, rule, *rows])
