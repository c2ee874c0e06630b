from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from medilens.admin import AuditedModelAdmin

from . import services
from .mfa import services as mfa_services
from .models import ApiClient, Invitation, Membership, Organization, User
from .roles import Role
from .tenancy import scopes_disabled

# allauth registers its models in admin. Email addresses are MediLens's User.email, and factors change only
# through audited ways (allauth's own pages, the reset action below): an unaudited admin delete of a factor
# would be a silent way around them.
for _model in (EmailAddress, EmailConfirmation, Authenticator):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class OrganizationAdminForm(forms.ModelForm):
    """Validates what the service would refuse after the form was accepted (a 500, not a form error):
    the service stores the slugified slug, so the clash check must compare slugified slugs."""

    data_retention_days = forms.IntegerField(
        min_value=1, max_value=36500, initial=2555, label="Data retention days",
        help_text="How long patient data is kept (default 7 years).",
    )

    class Meta:
        model = Organization
        fields = ["name", "slug", "data_retention_days", "require_consent_for_assessment"]

    def clean_slug(self):
        slug = slugify(self.cleaned_data["slug"])
        if not slug:
            raise ValidationError("The slug must contain letters or digits.")
        if Organization.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"The slug '{slug}' is already taken by another organization.")
        return slug


@admin.register(Organization)
class OrganizationAdmin(AuditedModelAdmin):
    form = OrganizationAdminForm
    list_display = ["name", "slug", "status", "data_retention_days", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    readonly_fields = ["status", "created_at", "updated_at"]
    fields = [
        "name", "slug", "status", "data_retention_days", "require_consent_for_assessment", "created_at", "updated_at"
    ]
    actions = ["suspend", "reactivate"]

    def save_model(self, request, obj, form, change):
        if change:
            services.update_organization_settings(
                acting_user=request.user,
                organization=obj,
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                data_retention_days=form.cleaned_data["data_retention_days"],
                require_consent_for_assessment=form.cleaned_data["require_consent_for_assessment"],
            )
            obj.refresh_from_db()
            return
        created = services.create_organization(
            acting_user=request.user, name=obj.name, slug=obj.slug, data_retention_days=obj.data_retention_days
        )
        if created.require_consent_for_assessment != obj.require_consent_for_assessment:
            services.update_organization_settings(
                acting_user=request.user,
                organization=created,
                data_retention_days=created.data_retention_days,
                require_consent_for_assessment=obj.require_consent_for_assessment,
            )
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        # Tenants are suspended, never deleted: their records and audit trail must remain.
        return False

    @admin.action(description="Suspend selected organizations")
    def suspend(self, request, queryset):
        for organization in queryset:
            services.set_organization_status(
                acting_user=request.user, organization=organization, status=Organization.Status.SUSPENDED
            )
        self.message_user(request, f"Suspended {queryset.count()} organization(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected organizations")
    def reactivate(self, request, queryset):
        for organization in queryset:
            services.set_organization_status(
                acting_user=request.user, organization=organization, status=Organization.Status.ACTIVE
            )
        self.message_user(request, f"Reactivated {queryset.count()} organization(s).", messages.SUCCESS)


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "full_name"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["organization", "role", "created_at"]
    readonly_fields = ["organization", "role", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "full_name"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "usable_password", "password1", "password2"]})
    ]
    actions = ["deactivate", "reset_second_factors"]

    @admin.action(description="Reset second factors of selected users (they enrol again at sign-in)")
    def reset_second_factors(self, request, queryset):
        reset = [
            user.email for user in queryset if mfa_services.reset_factors_as_staff(acting_user=request.user, user=user)
        ]
        if reset:
            self.message_user(request, f"Removed the second factors of: {', '.join(reset)}.", messages.SUCCESS)
        else:
            self.message_user(request, "None of the selected users had a second factor.", messages.WARNING)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # The creation form validated the password and set it (or made it unusable) on obj.
        created = services.create_user(
            acting_user=request.user,
            email=obj.email,
            full_name=obj.full_name,
            password=form.cleaned_data.get("password1") if obj.has_usable_password() else None,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description="Deactivate selected users (they can no longer sign in)")
    def deactivate(self, request, queryset):
        for user in queryset.exclude(pk=request.user.pk):
            services.deactivate_user(acting_user=request.user, user=user)
        self.message_user(request, "Deactivated the selected users (not yourself).", messages.SUCCESS)


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "role"]

    def clean(self):
        """The services' refusals, as form errors: raised from save_model they would be a 500."""
        data = super().clean()
        with scopes_disabled():
            if self.instance.pk is not None:
                if (
                    self.instance.role == Role.ORG_ADMIN
                    and data.get("role") not in (None, Role.ORG_ADMIN)
                    and _is_last_org_admin(self.instance)
                ):
                    raise ValidationError("This is the organization's last admin: make someone else admin first.")
            else:
                organization, user = data.get("organization_choice"), data.get("user")
                if organization and user and Membership.objects.filter(organization=organization, user=user).exists():
                    self.add_error("user", f"{user.email} is already a member of {organization.name}.")
        return data


def _is_last_org_admin(membership) -> bool:
    return not (
        Membership.objects.filter(organization_id=membership.organization_id, role=Role.ORG_ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "organization__name", "organization__slug"]
    autocomplete_fields = ["user"]

    def get_fields(self, request, obj=None):
        return ["organization_choice", "user", "role"] if obj is None else ["organization_name", "user_email", "role"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization_name", "user_email"] if obj is not None else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:

            class AddForm(MembershipAdminForm):
                organization_choice = forms.ModelChoiceField(
                    queryset=Organization.objects.all(), label="Organization"
                )

            kwargs["form"] = AddForm
            kwargs["fields"] = ["user", "role"]
            form = super().get_form(request, obj, **kwargs)
            form.base_fields["organization_choice"] = AddForm.base_fields["organization_choice"]
            return form
        kwargs["fields"] = ["role"]
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="Organization")
    def organization_name(self, obj):
        return obj.organization.name

    @admin.display(description="User")
    def user_email(self, obj):
        return obj.user.email

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.change_role(
                    acting_user=request.user,
                    organization=obj.organization,
                    membership=obj,
                    role=form.cleaned_data["role"],
                )
            else:
                created = services.add_membership(
                    acting_user=request.user,
                    organization=form.cleaned_data["organization_choice"],
                    user=form.cleaned_data["user"],
                    role=form.cleaned_data["role"],
                )
                obj.pk = created.pk
                obj.organization = created.organization
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            raise

    def get_deleted_objects(self, objs, request):
        """Refuse (the page says why; a POST is a 403) deleting an organization's last admins, before
        Django logs and audits the deletion (raising in delete_model would be a 500 after that)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        by_organization = {}
        for membership in objs:
            if membership.role == Role.ORG_ADMIN:
                by_organization.setdefault(membership.organization, set()).add(membership.pk)
        for organization, pks in by_organization.items():
            admins = set(
                Membership.objects.filter(organization=organization, role=Role.ORG_ADMIN).values_list("pk", flat=True)
            )
            if admins <= pks:
                perms_needed = {*perms_needed, f"the last organization admin of {organization.name}"}
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        services.remove_membership(acting_user=request.user, organization=obj.organization, membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.remove_membership(
                acting_user=request.user, organization=membership.organization, membership=membership
            )


@admin.register(Invitation)
class InvitationAdmin(AuditedModelAdmin):
    list_display = ["email", "organization", "role", "state", "created_at", "expires_at"]
    list_filter = ["organization", "role"]
    search_fields = ["email"]
    readonly_fields = [
        "organization", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by",
        "revoked_at",
    ]
    exclude = ["token_digest"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Invitations carry a token mailed to the invitee: org admins send them from the portal.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected open invitations")
    def revoke(self, request, queryset):
        revoked = 0
        for invitation in queryset:
            if invitation.state == "open":
                services.revoke_invitation(
                    acting_user=request.user, organization=invitation.organization, invitation=invitation
                )
                revoked += 1
        self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)


@admin.register(ApiClient)
class ApiClientAdmin(AuditedModelAdmin):
    list_display = ["name", "organization", "access", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organization", "access"]
    search_fields = ["name", "key_prefix"]
    readonly_fields = ["key_prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization_choice", "name", "access"]
        return ["name", "access", *self.readonly_fields]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:

            class AddForm(forms.ModelForm):
                organization_choice = forms.ModelChoiceField(
                    queryset=Organization.objects.all(), label="Organization"
                )

                class Meta:
                    model = ApiClient
                    fields = ["name", "access"]

            kwargs["form"] = AddForm
            kwargs["fields"] = ["name", "access"]
            form = super().get_form(request, obj, **kwargs)
            form.base_fields["organization_choice"] = AddForm.base_fields["organization_choice"]
            return form
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        client, key = services.create_api_client(
            acting_user=request.user,
            organization=form.cleaned_data["organization_choice"],
            name=form.cleaned_data["name"],
            access=form.cleaned_data["access"],
        )
        obj.pk = client.pk
        obj.organization = client.organization
        self.message_user(
            request, f"API key for {client.name} (shown once, copy it now): {key}", messages.WARNING
        )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected API clients")
    def revoke(self, request, queryset):
        for client in queryset:
            services.revoke_api_client(acting_user=request.user, organization=client.organization, client=client)
        self.message_user(request, "Revoked the selected API clients.", messages.SUCCESS)
