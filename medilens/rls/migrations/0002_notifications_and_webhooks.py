"""Row-Level Security on the tenant tables added after 0001: notifications and webhook endpoints and
deliveries. ``apply`` is idempotent and covers every tenant table it finds; reversing this migration leaves
the policies in place (0001's reverse removes them all)."""

from django.db import migrations

from medilens.rls import policies


class Migration(migrations.Migration):
    dependencies = [
        ("rls", "0001_tenant_row_security"),
        ("accounts", "0003_apiclient_may_manage_webhooks"),
        ("assessments", "0014_patient_history_unknown"),
        ("notifications", "0001_initial"),
        ("webhooks", "0001_initial"),
    ]

    operations = [migrations.RunPython(policies.apply, migrations.RunPython.noop)]
