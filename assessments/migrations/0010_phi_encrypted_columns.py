"""Encrypted PHI, step 1 of 3: the columns become text that will hold ciphertext (their plaintext stays
until step 2 seals it), the blind index table and columns are added, the plaintext name index and MRN
constraint go. Step 2 (0011) seals every existing row; step 3 (0012) makes the MRN's blind token unique."""

import django.db.models.deletion
import medilens.crypto.blind
import medilens.crypto.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('crypto', '0001_initial'),
        ('assessments', '0009_unitless_cvd_inputs'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PatientSearchToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('mrn', 'Exact MRN'), ('mrn_prefix', 'MRN prefix'), ('name', 'Name prefix'), ('dob', 'Date of birth')], max_length=10)),
                ('token', models.BinaryField(max_length=16)),
                ('last_activity_at', models.DateTimeField()),
            ],
        ),
        migrations.AlterModelOptions(
            name='patient',
            options={'ordering': ['-last_activity_at', 'id']},
        ),
        migrations.RemoveConstraint(
            model_name='patient',
            name='patient_mrn_unique_per_org',
        ),
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_org_name_idx',
        ),
        migrations.AddField(
            model_name='patient',
            name='mrn_index',
            field=medilens.crypto.blind.BlindIndexField(kind='mrn-unique', null=True, source='mrn'),
        ),
        migrations.AddField(
            model_name='patient',
            name='postcode',
            field=medilens.crypto.fields.EncryptedCharField(blank=True, max_length=16, null=True),
        ),
        migrations.AlterField(
            model_name='assessment',
            name='review_note',
            field=medilens.crypto.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='chatmessage',
            name='body',
            field=medilens.crypto.fields.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='patient',
            name='date_of_birth',
            field=medilens.crypto.fields.EncryptedDateField(),
        ),
        migrations.AlterField(
            model_name='patient',
            name='family_name',
            field=medilens.crypto.fields.EncryptedCharField(max_length=120),
        ),
        migrations.AlterField(
            model_name='patient',
            name='given_name',
            field=medilens.crypto.fields.EncryptedCharField(max_length=120),
        ),
        migrations.AlterField(
            model_name='patient',
            name='history_notes',
            field=medilens.crypto.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='patient',
            name='mrn',
            field=medilens.crypto.fields.EncryptedCharField(max_length=64, verbose_name='medical record number'),
        ),
        migrations.AlterField(
            model_name='uploadedfile',
            name='original_filename',
            field=medilens.crypto.fields.EncryptedCharField(max_length=255),
        ),
        # last_activity_at came with retention (0008); its index gains the id, so a search's top rows by
        # activity come from the index alone.
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_org_activity_idx',
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['organization', '-last_activity_at', '-id'], name='patient_org_activity_idx'),
        ),
        migrations.AddField(
            model_name='patientsearchtoken',
            name='organization',
            field=models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.organization'),
        ),
        migrations.AddField(
            model_name='patientsearchtoken',
            name='patient',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='search_tokens', to='assessments.patient'),
        ),
        migrations.AddIndex(
            model_name='patientsearchtoken',
            index=models.Index(fields=['organization', 'token', '-last_activity_at', 'patient'], name='patient_search_token_idx'),
        ),
    ]
