"""Re-encrypt rows under their organization's current data key, in batches: the second half of a data
key rotation. Resumable by construction: each stored value names the key version that sealed it, so a
rerun skips what is done and picks up what an interruption (or a process still sealing with the retired
key for up to FIELD_ENCRYPTION_KEY_CACHE_SECONDS) left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction

import audit
from accounts.tenancy import organization_scope

from . import cipher, keyring
from .fields import Sealed, encrypted_fields


@dataclass
class Progress:
    scanned: int = 0
    reencrypted: int = 0
    per_model: dict[str, int] = field(default_factory=dict)


def encrypted_models() -> list:
    return [model for model in apps.get_models() if encrypted_fields(model)]


def stored_versions(instance) -> set[int | None]:
    """Key versions of the values as loaded (before any was opened)."""
    versions = set()
    for item in encrypted_fields(type(instance)):
        stored = instance.__dict__.get(item.attname)
        if isinstance(stored, Sealed):
            versions.add(cipher.key_version(str(stored)))
    return versions


def _batch(model, names: list[str], pks: list, current: int) -> int:
    with transaction.atomic():
        rows = list(model.objects.select_for_update().filter(pk__in=pks))
        stale = [row for row in rows if stored_versions(row) - {current}]
        for row in stale:
            row.save(update_fields=names)  # opens with the old version, seals with the current one
    return len(stale)


def reencrypt_organization(
    organization, *, batch_size: int = 500, report: Callable[[str, Progress], None] | None = None
) -> Progress:
    progress = Progress()
    keyring.store().forget(organization.pk)
    current, _ = keyring.store().current_data_key(organization.pk)
    with organization_scope(organization):
        for model in encrypted_models():
            names = [f.name for f in encrypted_fields(model)]
            label = model._meta.label
            last = None
            while True:
                page = model.objects.order_by("pk")
                if last is not None:
                    page = page.filter(pk__gt=last)
                pks = list(page.values_list("pk", flat=True)[:batch_size])
                if not pks:
                    break
                done = _batch(model, names, pks, current)
                progress.scanned += len(pks)
                progress.reencrypted += done
                progress.per_model[label] = progress.per_model.get(label, 0) + done
                last = pks[-1]
                if report:
                    report(label, progress)
    if progress.reencrypted:
        audit.record(
            action="encryption.rows_reencrypted",
            actor="system:rotate_encryption_keys",
            organization=organization,
            details={"version": current, "rows": progress.reencrypted, "per_model": progress.per_model},
        )
    return progress


def count_stale(organization, current: int) -> int:
    """Rows of the organization holding a value sealed by another data key version than ``current``."""
    stale = 0
    with organization_scope(organization):
        for model in encrypted_models():
            names = [f.attname for f in encrypted_fields(model)]
            for values in model.objects.values_list(*names).iterator(chunk_size=2000):
                versions = {cipher.key_version(str(v)) for v in values if v is not None}
                stale += bool(versions - {current})
    return stale
