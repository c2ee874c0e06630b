"""Record where each chain's legacy SHA-256 segment ends, before sealing begins.

Events written so far carry a per-organization sequence 1..N and a plain SHA-256 hash chain. From here
on ``record`` only appends and the sealer chains events under a keyed MAC; the first seal of each chain
links to the hash recorded here, so the legacy segment stays verifiable (``verify_audit_chain`` walks it
as before) and is covered by the keyed chain and the checkpoints from then on.

Run ``verify_audit_chain`` before upgrading: a legacy segment that was already damaged stays damaged,
and its head is recorded as found.
"""

from django.db import migrations
from django.db.models import Max
from django.utils import timezone


def record_cutover(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    ChainCutover = apps.get_model("audit", "ChainCutover")
    now = timezone.now()
    heads = (
        AuditEvent.objects.filter(legacy_hash__isnull=False)
        .order_by()
        .values("organization_id")
        .annotate(last=Max("sequence"))
    )
    for head in heads:
        last = AuditEvent.objects.get(organization_id=head["organization_id"], sequence=head["last"])
        ChainCutover.objects.create(
            organization_id=head["organization_id"], sequence=last.sequence, hash=last.legacy_hash, recorded_at=now
        )


def forget_cutover(apps, schema_editor):
    apps.get_model("audit", "ChainCutover").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_sealed_chain")]
    operations = [migrations.RunPython(record_cutover, forget_cutover)]
