"""Row-Level Security on result versions and their artifacts (assessments 0015). ``apply`` is idempotent and
covers every tenant table it finds; reversing leaves the policies in place (0001's reverse removes them all)."""

from django.db import migrations

from medilens.rls import policies


class Migration(migrations.Migration):
    dependencies = [
        ("rls", "0002_notifications_and_webhooks"),
        ("assessments", "0017_result_version_one"),
    ]

    operations = [migrations.RunPython(policies.apply, migrations.RunPython.noop)]
