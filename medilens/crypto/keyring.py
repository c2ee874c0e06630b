"""Organization keys, unwrapped: found, created on first use, cached for a bounded time, shredded.

An unwrapped key is cached in the process for ``FIELD_ENCRYPTION_KEY_CACHE_SECONDS`` (default 300): a
page of patients costs no key query. The bound matters twice: a crypto-shredded organization's keys are
gone from every process after it, and a retired data key stops sealing new values after it (which is why
``rotate_encryption_keys`` refuses to destroy a key retired more recently than that).

A key created inside a transaction is used by that transaction and cached for everyone else only once it
commits: a rolled-back key must never seal a value that a later transaction then saves.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from . import masterkeys

DATA = "data"
INDEX = "index"
NONCE_BYTES = 12
_WRAP_LABEL = "medilens organization key v1"


class KeyNotFound(LookupError):
    """The organization has no such key: never created for it, or destroyed (crypto-shredded)."""


class MasterKeyMismatch(ImproperlyConfigured):
    """A stored data key cannot be unwrapped with the configured master keys."""


def wrap_aad(organization_id: int, purpose: str, version: int) -> bytes:
    # A wrapped key copied to another organization, purpose or version does not unwrap.
    return f"{_WRAP_LABEL}|{organization_id}|{purpose}|{version}".encode()


def wrap(raw: bytes, *, organization_id: int, purpose: str, version: int, master: masterkeys.MasterKey) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, raw, wrap_aad(organization_id, purpose, version))


def unwrap(row) -> bytes:
    master = masterkeys.by_id(row.master_key_id)
    where = f"organization {row.organization_id}'s {row.purpose} key v{row.version}"
    if master is None:
        configured = ", ".join(k.id for k in masterkeys.master_keys())
        raise MasterKeyMismatch(
            f"{masterkeys.SETTING} holds no master key with id {row.master_key_id}, which wrapped {where} "
            f"(configured key ids: {configured}). Put that key back in {masterkeys.SETTING}."
        )
    blob = bytes(row.wrapped)
    try:
        return AESGCM(master.key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], wrap_aad(row.organization_id, row.purpose, row.version)
        )
    except InvalidTag:
        raise MasterKeyMismatch(
            f"{masterkeys.SETTING} key {master.id} does not open {where}: the wrapped key was altered or moved."
        ) from None


def _pending_in_this_transaction(marker) -> bool:
    """Whether ``marker``, registered with on_commit, still waits for this connection's transaction: true
    from its registration until that transaction commits (the callback runs) or rolls back, wholly or to
    a savepoint taken before it (Django drops the callback). Reads Django's on_commit queue."""
    connection = transaction.get_connection()
    return connection.in_atomic_block and any(entry[1] is marker for entry in connection.run_on_commit)


class KeyStore:
    """Keys of one ``OrganizationKey`` model. ``memo=True`` (data migrations) keeps every key for the
    store's own lifetime, committed or not: the store goes away with the migration's transaction."""

    def __init__(self, model=None, *, memo: bool = False):
        self._model = model
        self._memo = memo
        self._cache: dict[tuple, tuple[float, object]] = {}
        # Keys this process created in a transaction not yet committed, with the on_commit marker that
        # tells whether that transaction is still the open one.
        self._created: dict[tuple, object] = {}
        self._uncommitted: dict[tuple, tuple[object, object]] = {}
        self._lock = threading.Lock()

    @property
    def model(self):
        return self._model or apps.get_model("crypto", "OrganizationKey")

    @property
    def rows(self):
        # Every query here names its organization; a migration's historical model has a plain manager.
        return getattr(self.model, "all_organizations", self.model._default_manager)

    # --- cache ----------------------------------------------------------------------------------
    def _get(self, name: tuple):
        with self._lock:
            entry = self._cache.get(name)
            pending = self._uncommitted.get(name)
        if entry is not None and (self._memo or entry[0] >= time.monotonic()):
            return entry[1]
        if pending is not None and _pending_in_this_transaction(pending[0]):
            return pending[1]
        return None

    def _put(self, name: tuple, value) -> None:
        ttl = getattr(settings, "FIELD_ENCRYPTION_KEY_CACHE_SECONDS", 300)
        with self._lock:
            self._cache[name] = (time.monotonic() + ttl, value)
            self._uncommitted.pop(name, None)

    def _remember(self, name: tuple, value, organization_id: int, purpose: str) -> None:
        created = self._created.get((organization_id, purpose))
        if self._memo or created is None or not _pending_in_this_transaction(created):
            self._put(name, value)
            return
        # Created by this transaction: usable inside it, cached for everyone once it commits.
        def marker():
            self._put(name, value)

        transaction.on_commit(marker)
        with self._lock:
            self._uncommitted[name] = (marker, value)

    def forget(self, organization_id: int | None = None) -> None:
        with self._lock:
            for store in (self._cache, self._uncommitted):
                for name in [n for n in store if organization_id is None or n[1] == organization_id]:
                    del store[name]

    # --- keys -----------------------------------------------------------------------------------
    def _create(self, organization_id: int, purpose: str, version: int) -> bool:
        master = masterkeys.primary()
        raw = AESGCM.generate_key(bit_length=256)
        row = self.model(
            organization_id=organization_id,
            purpose=purpose,
            version=version,
            wrapped=wrap(raw, organization_id=organization_id, purpose=purpose, version=version, master=master),
            master_key_id=master.id,
        )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            return False  # another process created it first: use theirs
        if transaction.get_connection().in_atomic_block:
            def marker():
                pass

            transaction.on_commit(marker)
            self._created[(organization_id, purpose)] = marker
        return True

    def data_key(self, organization_id: int, version: int) -> AESGCM:
        name = (DATA, organization_id, version)
        cached = self._get(name)
        if cached is not None:
            return cached
        row = self.rows.filter(organization_id=organization_id, purpose=DATA, version=version).first()
        if row is None:
            raise KeyNotFound(f"organization {organization_id} has no data key v{version}")
        aead = AESGCM(unwrap(row))
        self._remember(name, aead, organization_id, DATA)
        return aead

    def current_data_key(self, organization_id: int) -> tuple[int, AESGCM]:
        """The key that seals new values: the newest data key not retired, created on first use."""
        name = ("current", organization_id)
        cached = self._get(name)
        if cached is not None:
            return cached
        keys = self.rows.filter(organization_id=organization_id, purpose=DATA)
        row = keys.filter(retired_at__isnull=True).order_by("-version").first()
        if row is None:
            newest = keys.order_by("-version").values_list("version", flat=True).first() or 0
            self._create(organization_id, DATA, newest + 1)
            row = keys.filter(retired_at__isnull=True).order_by("-version").first()
        current = (row.version, AESGCM(unwrap(row)))
        self._remember(name, current, organization_id, DATA)
        self._remember((DATA, organization_id, row.version), current[1], organization_id, DATA)
        return current

    def index_key(self, organization_id: int) -> bytes:
        name = (INDEX, organization_id)
        cached = self._get(name)
        if cached is not None:
            return cached
        rows = self.rows.filter(organization_id=organization_id, purpose=INDEX, version=1)
        row = rows.first()
        if row is None:
            self._create(organization_id, INDEX, 1)
            row = rows.first()
        raw = unwrap(row)
        self._remember(name, raw, organization_id, INDEX)
        return raw


_default = KeyStore()
_override: ContextVar[KeyStore | None] = ContextVar("medilens_keystore", default=None)


def store() -> KeyStore:
    return _override.get() or _default


@contextmanager
def use(keystore: KeyStore) -> Iterator[KeyStore]:
    """Seal and open with ``keystore`` inside the block (data migrations use their historical model)."""
    token = _override.set(keystore)
    try:
        yield keystore
    finally:
        _override.reset(token)
