"""Row-Level Security on every tenant table (PostgreSQL; nothing on SQLite). See medilens/rls/policies.py.

A later tenant table needs a migration here that runs the same ``apply`` after the migration creating it
(``apply`` is idempotent and covers every tenant table it finds); tests/test_policies.py fails until then.
"""

from django.db import migrations

from medilens.rls import policies


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organization_require_mfa_for_all_members"),
        ("audit", "0005_seal_triggers"),
        ("crypto", "0001_initial"),
        ("assessments", "0012_patient_mrn_index_unique"),
        ("modalities", "0002_model_version_safetensors_only"),
    ]

    operations = [migrations.RunPython(policies.apply, policies.remove)]
