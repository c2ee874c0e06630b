"""The reference directory: health facilities (FINESS) and reimbursed medicines (OpenMedic).

Global reference data, owned by no organization (so no row-level security policy): every signed-in
member and API key may read it; only platform admins import it.

Each import loads its rows into the main tables tagged with their `dataset` (the import that loaded
them): that tagged set is the staging area. A `DirectorySource` row names which dataset readers see
(`current`) and the one kept for rollback (`previous`); the swap flips those two foreign keys in one
transaction, so readers move from one complete dataset to the next at once on SQLite and PostgreSQL
alike. Searches read `dataset=<source's current>`.
"""

from django.conf import settings
from django.db import models


class Source(models.TextChoices):
    FINESS = "finess", "FINESS establishments"
    OPENMEDIC = "openmedic", "OpenMedic reimbursed medicines"


class DirectoryImport(models.Model):
    """One run of the import pipeline for one source: what it read, how it went, what it loaded."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        NO_CHANGE = "no_change", "No change (same file as the current data)"
        ROLLED_BACK = "rolled_back", "Rolled back"

    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    origin = models.CharField(max_length=500, blank=True, help_text="The URL or file name the data came from.")
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 (hex) of the raw input file(s).")
    file_size = models.PositiveBigIntegerField(default=0, help_text="Bytes read.")
    rows = models.PositiveIntegerField(default=0, help_text="Rows loaded into this dataset.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why the import failed, or what it did.")
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100.")
    step = models.CharField(max_length=40, blank=True, help_text="The step running now (or the last one).")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-started_at"], name="directory_import_source_idx")]

    def __str__(self):
        return f"{self.get_source_display()} import #{self.pk} ({self.status})"


class DirectorySource(models.Model):
    """Which dataset of a source readers see now (`current`) and which one a rollback returns to."""

    source = models.CharField(max_length=20, choices=Source.choices, unique=True)
    current = models.ForeignKey(
        DirectoryImport, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    previous = models.ForeignKey(
        DirectoryImport, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.get_source_display()


class Facility(models.Model):
    """One FINESS establishment (`structureet` record), with its `geolocalisation` in WGS 84 if given."""

    dataset = models.ForeignKey(DirectoryImport, on_delete=models.CASCADE, related_name="+")
    finess = models.CharField(max_length=9, help_text="FINESS number of the establishment (nofinesset).")
    finess_legal = models.CharField(max_length=9, blank=True, help_text="FINESS number of its legal entity.")
    name = models.CharField(max_length=255)
    long_name = models.CharField(max_length=255, blank=True)
    category_code = models.CharField(max_length=10, blank=True)
    category_label = models.CharField(max_length=255, blank=True)
    category_group_code = models.CharField(
        max_length=10, blank=True, help_text="FINESS aggregated category (categagretab), e.g. 1102 hospital centres."
    )
    category_group_label = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=255, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    commune_code = models.CharField(max_length=10, blank=True, help_text="INSEE commune code.")
    commune = models.CharField(max_length=255, blank=True)
    department_code = models.CharField(max_length=3, blank=True)
    department_label = models.CharField(max_length=255, blank=True)
    region_code = models.CharField(max_length=3, blank=True)
    region_label = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    latitude = models.FloatField(null=True, blank=True, help_text="WGS 84 degrees.")
    longitude = models.FloatField(null=True, blank=True, help_text="WGS 84 degrees.")
    coordinate_source = models.CharField(
        max_length=40, blank=True, help_text="The coordinate system the source record named, e.g. LAMBERT_93."
    )
    services = models.JSONField(
        default=list, blank=True, help_text="Services or activities, where the source gives them (else empty)."
    )
    name_folded = models.CharField(max_length=520, blank=True, help_text="Names, folded by directory.text.fold.")
    commune_folded = models.CharField(max_length=255, blank=True)
    # Position in name order (name_folded bytewise, then id) within the dataset, written with the search keys
    # (directory/search/keys.py, PostgreSQL); null on SQLite.
    name_rank = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "facilities"
        constraints = [models.UniqueConstraint(fields=["dataset", "finess"], name="directory_facility_unique_finess")]
        indexes = [
            models.Index(fields=["dataset", "department_code"], name="directory_fac_department_idx"),
            models.Index(fields=["dataset", "category_code"], name="directory_fac_category_idx"),
            models.Index(fields=["dataset", "postcode"], name="directory_fac_postcode_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.finess})"


class FacilityKey(models.Model):
    """A word start of a facility's folded name or commune, with the facility's rank in name order: what the
    facility search reads in that order (directory/search/keys.py). Written by the import, in SQL, on PostgreSQL
    only; empty on SQLite. No foreign keys: the rows go with their dataset (keys.delete)."""

    pk = models.CompositePrimaryKey("dataset_id", "key", "name_rank")
    dataset_id = models.BigIntegerField()
    key = models.CharField(max_length=8)
    name_rank = models.IntegerField()
    facility_id = models.BigIntegerField()

    class Meta:
        db_table = "directory_facility_key"

    def __str__(self) -> str:
        return f"{self.key} #{self.name_rank} of import {self.dataset_id}"


class Medicine(models.Model):
    """One medicine presentation (CIP13) of an OpenMedic year, its rows summed over age, sex, region and prescriber."""

    dataset = models.ForeignKey(DirectoryImport, on_delete=models.CASCADE, related_name="+")
    cip13 = models.CharField(max_length=13)
    name = models.CharField(max_length=255)
    atc1 = models.CharField(max_length=1, blank=True)
    atc1_label = models.CharField(max_length=255, blank=True)
    atc2 = models.CharField(max_length=3, blank=True)
    atc2_label = models.CharField(max_length=255, blank=True)
    atc3 = models.CharField(max_length=4, blank=True)
    atc3_label = models.CharField(max_length=255, blank=True)
    atc4 = models.CharField(max_length=5, blank=True)
    atc4_label = models.CharField(max_length=255, blank=True)
    atc5 = models.CharField(max_length=7, blank=True)
    atc5_label = models.CharField(max_length=255, blank=True)
    generic_group = models.TextField(blank=True)
    generic_status = models.CharField(max_length=40, blank=True, help_text="The source's TOP_GEN value.")
    year = models.PositiveSmallIntegerField()
    boxes = models.BigIntegerField(default=0, help_text="Boxes reimbursed in the year (BOITES, summed).")
    reimbursed_amount = models.DecimalField(
        max_digits=16, decimal_places=2, default=0, help_text="Euros reimbursed in the year (REM, summed)."
    )
    base_amount = models.DecimalField(
        max_digits=16, decimal_places=2, default=0, help_text="Euros of reimbursement base (BSE, summed)."
    )
    name_folded = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "cip13"], name="directory_medicine_unique_cip13")]
        indexes = [models.Index(fields=["dataset", "atc5"], name="directory_med_atc5_idx")]

    def __str__(self):
        return f"{self.name} ({self.cip13})"
