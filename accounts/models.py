import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from .roles import Role
from .tenancy import TenantModel


class Organization(models.Model):
    """A clinic: the tenant. Platform-level, so not itself scoped."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    data_retention_days = models.PositiveIntegerField(
        default=2555, help_text="How long patient data is kept (default 7 years)."
    )
    require_consent_for_assessment = models.BooleanField(
        default=True, help_text="Refuse new assessments for patients whose consent is not recorded."
    )
    # Org admins and platform staff always need a second factor; this extends the rule to every member.
    require_mfa_for_all_members = models.BooleanField(
        default=False, help_text="Every member must sign in with a second factor, not only the admins."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("an email is required")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


def normalize_email(email: str) -> str:
    """Emails are stored lower-cased: logins and uniqueness are case-insensitive."""
    return (email or "").strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    # Stored lower-cased (save() normalizes); the functional constraint also guards raw writes.
    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform staff: may use Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]
        ordering = ["email"]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Membership(TenantModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="accounts_membership_unique_pair")
        ]
        ordering = ["organization__name", "user__email"]

    def __str__(self):
        return f"{self.user} in {self.organization} as {self.role}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Invitation(TenantModel):
    """A single-use link, stored as a digest of its token (the token itself is only in the email)."""

    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One open invitation per address and organization.
            models.UniqueConstraint(
                Lower("email"),
                "organization",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="accounts_invitation_one_open_per_email",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation of {self.email} to {self.organization}"

    @staticmethod
    def new_token() -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, _digest(token)

    @staticmethod
    def digest(token: str) -> str:
        return _digest(token)

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class ApiClient(TenantModel):
    """A partner system. Its key is shown once; we keep a SHA-256 digest looked up by a short prefix.

    A fast digest (not a password hasher) is right here: the key has 256 bits of entropy, so there is
    nothing to brute-force, and a slow hash would cost hundreds of milliseconds on every request.
    """

    class Access(models.TextChoices):
        CLINICIAN = Role.CLINICIAN.value, "Clinician (read and write)"
        READ_ONLY = "read_only", "Read-only"

    KEY_PREFIX = "mlk"

    name = models.CharField(max_length=120)
    access = models.CharField(max_length=20, choices=Access.choices, default=Access.READ_ONLY)
    key_prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_digest = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Granted by an org admin (accounts.services.set_api_client_webhook_grant): webhook endpoints receive
    # patient data, so no access level carries this by itself.
    may_manage_webhooks = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix})"

    def has_permission(self, permission: str) -> bool:
        """The client's access level, plus the permissions an org admin granted it."""
        from .roles import role_has

        if role_has(self.role, permission):
            return True
        return permission == "webhooks.manage" and self.may_manage_webhooks

    @classmethod
    def new_key(cls) -> tuple[str, str, str]:
        """Returns (full key, prefix, digest)."""
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = f"{cls.KEY_PREFIX}_{prefix}_{secret}"
        return key, prefix, _digest(key)

    @staticmethod
    def digest(key: str) -> str:
        return _digest(key)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def role(self) -> str:
        """The role whose permissions the client acts with: a read-only client reads like an auditor
        without access to the audit log."""
        return Role.CLINICIAN if self.access == self.Access.CLINICIAN else "read_only"
