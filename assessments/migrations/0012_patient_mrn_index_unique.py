"""Encrypted PHI, step 3 of 3: every patient has its MRN's blind token (0008), which now carries the
one-MRN-per-organization rule the plaintext column used to."""

import medilens.crypto.blind
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("assessments", "0011_encrypt_existing_phi"),
    ]

    operations = [
        migrations.AlterField(
            model_name="patient",
            name="mrn_index",
            field=medilens.crypto.blind.BlindIndexField(kind="mrn-unique", source="mrn"),
        ),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.UniqueConstraint(
                fields=("organization", "mrn_index"), name="patient_mrn_index_unique_per_org"
            ),
        ),
    ]
