"""Changes to which keys exist and what wraps them, each audited in the organization's chain (counts,
versions and key ids: never a key, never PHI).

* ``rewrap``: every stored key wrapped by another master key is re-wrapped by the first entry of
  FIELD_ENCRYPTION_KEYS. No row of data changes; afterwards the old master key can leave the list.
* ``new_data_key``: the organization's current data key is retired and a new version seals from now on;
  ``reencrypt.reencrypt_organization`` then moves the rows to it.
* ``destroy_retired``: a retired data key no row uses any more is deleted.
* ``shred_organization``: every key of the organization is deleted: its sealed data is unreadable from
  then on, in this database and in every backup of it.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit

from . import keyring, masterkeys
from . import reencrypt_services as reencrypt
from .models import OrganizationKey

SYSTEM_ACTOR = "system:rotate_encryption_keys"


class RotationRefused(Exception):
    pass


def rewrap(*, actor=SYSTEM_ACTOR) -> int:
    primary = masterkeys.primary()
    done = 0
    stale = OrganizationKey.all_organizations.exclude(master_key_id=primary.id).order_by("pk")
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            row = OrganizationKey.all_organizations.select_for_update().get(pk=pk)
            if row.master_key_id == primary.id:
                continue
            previous = row.master_key_id
            raw = keyring.unwrap(row)
            row.wrapped = keyring.wrap(
                raw, organization_id=row.organization_id, purpose=row.purpose, version=row.version, master=primary
            )
            row.master_key_id = primary.id
            row.save(update_fields=["wrapped", "master_key_id"])
            audit.record(
                action="encryption.key_rewrapped",
                actor=actor,
                organization_id=row.organization_id,
                target=row,
                details={"purpose": row.purpose, "version": row.version, "from": previous, "to": primary.id},
            )
        done += 1
    keyring.store().forget()
    return done


def master_keys_in_use() -> list[str]:
    return sorted(set(OrganizationKey.all_organizations.values_list("master_key_id", flat=True)))


def new_data_key(organization, *, actor=SYSTEM_ACTOR) -> int:
    """Retire the current data key and create the next version; returns the new version."""
    primary = masterkeys.primary()
    with transaction.atomic():
        keys = OrganizationKey.all_organizations.select_for_update().filter(
            organization=organization, purpose=OrganizationKey.Purpose.DATA
        )
        rows = list(keys.order_by("version"))
        version = (rows[-1].version if rows else 0) + 1
        keys.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        raw = AESGCM.generate_key(bit_length=256)
        OrganizationKey.all_organizations.create(
            organization=organization,
            purpose=OrganizationKey.Purpose.DATA,
            version=version,
            wrapped=keyring.wrap(
                raw, organization_id=organization.pk, purpose=keyring.DATA, version=version, master=primary
            ),
            master_key_id=primary.id,
        )
        audit.record(
            action="encryption.data_key_rotated",
            actor=actor,
            organization=organization,
            details={"version": version, "retired": [r.version for r in rows if r.retired_at is None]},
        )
    keyring.store().forget(organization.pk)
    return version


def destroy_retired(organization, *, actor=SYSTEM_ACTOR) -> list[int]:
    """Delete the organization's retired data keys once no row needs them. Refused while a process may
    still seal with one (retired less than the key cache lifetime ago) or a row still uses one."""
    current, _ = keyring.store().current_data_key(organization.pk)
    cutoff = timezone.now() - timedelta(seconds=getattr(settings, "FIELD_ENCRYPTION_KEY_CACHE_SECONDS", 300))
    retired = OrganizationKey.all_organizations.filter(
        organization=organization, purpose=OrganizationKey.Purpose.DATA, retired_at__isnull=False
    )
    if not retired.exists():
        return []
    if retired.filter(retired_at__gt=cutoff).exists():
        raise RotationRefused(
            "a data key was retired less than FIELD_ENCRYPTION_KEY_CACHE_SECONDS ago: processes may still seal "
            "with it. Run --resume, then destroy after that time."
        )
    stale = reencrypt.count_stale(organization, current)
    if stale:
        raise RotationRefused(f"{stale} row(s) still hold values of a retired data key: run --resume first.")
    with transaction.atomic():
        versions = sorted(retired.values_list("version", flat=True))
        retired.delete()
        audit.record(
            action="encryption.data_key_destroyed",
            actor=actor,
            organization=organization,
            details={"versions": versions},
        )
    keyring.store().forget(organization.pk)
    return versions


def shred_organization(*, actor, organization) -> int:
    """Crypto-shred: delete every key of the organization. Irreversible; its encrypted values (and its
    blind index tokens) can never be read or matched again, here or from any backup."""
    with transaction.atomic():
        count, _ = OrganizationKey.all_organizations.filter(organization=organization).delete()
        audit.record(
            action="encryption.organization_keys_destroyed",
            actor=actor,
            organization=organization,
            details={"keys": count},
        )
    keyring.store().forget(organization.pk)
    return count
