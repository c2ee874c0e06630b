from django.db import models

from accounts.tenancy import TenantManager


class OrganizationKey(models.Model):
    """One organization's key, wrapped (AES-256-GCM) by a master key that is never in the database.

    ``data`` keys seal field values; a new version retires the previous one, whose rows are re-encrypted
    by ``rotate_encryption_keys --data-keys`` before it is destroyed. The ``index`` key makes the blind
    index tokens (one per organization, kept across data key rotations so search never goes blind).
    Deleting an organization's rows here crypto-shreds its data, backups included.
    """

    class Purpose(models.TextChoices):
        DATA = "data", "Data key"
        INDEX = "index", "Blind index key"

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    version = models.PositiveIntegerField()
    wrapped = models.BinaryField(help_text="nonce || AES-256-GCM(master key, data key)")
    master_key_id = models.CharField(max_length=16, help_text="Which FIELD_ENCRYPTION_KEYS entry wrapped it.")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="No longer used to seal new values.")

    # The keyring, key rotation and the start-up check, which name the organization in every query
    # themselves and run where no scope is (a worker opening a row, start-up, a management command).
    all_organizations = models.Manager()
    # The tenancy guard, as on every row an organization owns (the default manager: see Meta).
    objects = TenantManager()

    class Meta:
        default_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["organization", "purpose", "version"], name="organization_key_version")
        ]

    def __str__(self):
        return f"{self.purpose} key v{self.version} of organization {self.organization_id}"
