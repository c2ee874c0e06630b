from django.contrib.admin.apps import AdminConfig


class MediLensAdminConfig(AdminConfig):
    """Django admin with MediLens's site (tenancy guard off for platform staff, audited changes)."""

    default_site = "medilens.admin.MediLensAdminSite"
