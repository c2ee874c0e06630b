"""Model fields whose column holds only ciphertext.

The attribute reads and writes plaintext; the column holds ``cipher.seal`` output, sealed in
``pre_save`` (when the row's primary key and organization are known) and opened on first read of the
attribute. Everything that would compare plaintext in SQL is refused loudly rather than silently
matching nothing: lookups (``filter(mrn=...)``), ``QuerySet.update()`` with a plain value, and a
primary key unknown at insert time unless the model seals after insert (``SealAfterInsert``). Search
goes through blind indexes (``medilens.crypto.blind``) instead.
"""

from __future__ import annotations

import datetime

from django.core import checks
from django.db import models, router, transaction
from django.db.models.query_utils import DeferredAttribute

from . import cipher


class Sealed(str):
    """A value as stored: ciphertext not yet opened."""

    __slots__ = ()


class EncryptionError(TypeError):
    pass


class EncryptedAttribute(DeferredAttribute):
    """Opens the stored ciphertext on first read and keeps the plaintext on the instance."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            value = self.field.open_value(instance, value)
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedMixin:
    descriptor_class = EncryptedAttribute

    def __init__(self, *args, **kwargs):
        for option in ("unique", "db_index", "primary_key"):
            if kwargs.get(option):
                raise EncryptionError(f"an encrypted field cannot be {option}: index a blind token instead")
        super().__init__(*args, **kwargs)

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if not any(f.name == "organization" for f in self.model._meta.fields):
            errors.append(
                checks.Error("an encrypted field needs an organization on its model", obj=self, id="crypto.E010")
            )
        return errors

    def get_internal_type(self):
        return "TextField"

    # --- plaintext <-> bytes ----------------------------------------------------------------------
    def encode(self, value) -> bytes:
        return str(value).encode("utf-8")

    def decode(self, raw: bytes):
        return raw.decode("utf-8")

    # --- sealing ----------------------------------------------------------------------------------
    def place(self, instance) -> cipher.Place:
        return cipher.Place(instance._meta.db_table, self.column, str(instance.pk), instance.organization_id)

    def open_value(self, instance, token: str):
        return self.decode(cipher.open_sealed(str(token), self.place(instance)))

    def open_stored(self, token: str, *, pk, organization_id: int):
        """A value read without its model instance (``values_list``), opened for the row it came from."""
        place = cipher.Place(self.model._meta.db_table, self.column, str(pk), organization_id)
        return self.decode(cipher.open_sealed(str(token), place))

    def seal_value(self, instance, value) -> Sealed:
        return Sealed(cipher.seal(self.encode(value), self.place(instance)))

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if value is None:
            return None
        if model_instance.pk is None:
            if getattr(model_instance, "_seal_after_insert", False):
                return Sealed("")  # replaced in the same transaction, once the primary key is known
            raise EncryptionError(
                f"{model_instance._meta.label}.{self.name} is sealed with its row's primary key: save rows one "
                "at a time (bulk_create cannot know an auto-increment key before the insert)"
            )
        return self.seal_value(model_instance, value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None or isinstance(value, Sealed):
            return None if value is None else str(value)
        raise EncryptionError(
            f"{self.model._meta.label}.{self.name} is encrypted: write it by saving the instance, not with "
            "update() or a raw value"
        )

    def get_db_prep_save(self, value, connection):
        return self.get_db_prep_value(value, connection)

    def value_to_string(self, obj):
        # Serialization (dumpdata) carries the ciphertext, never the plaintext.
        stored = obj.__dict__.get(self.attname)
        if stored is None or isinstance(stored, Sealed):
            return stored
        return self.seal_value(obj, stored)

    def get_lookup(self, lookup_name):
        # Only "is it there": any comparison of plaintext with ciphertext would silently match nothing.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, name):
        return None


class EncryptedCharField(EncryptedMixin, models.CharField):
    """A short text (max_length counts plaintext characters, checked by forms and serializers)."""


class EncryptedTextField(EncryptedMixin, models.TextField):
    pass


class EncryptedDateField(EncryptedMixin, models.DateField):
    def encode(self, value) -> bytes:
        return self.to_python(value).isoformat().encode("ascii")

    def decode(self, raw: bytes):
        return datetime.date.fromisoformat(raw.decode("ascii"))


def encrypted_fields(model) -> list[EncryptedMixin]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]


class SealAfterInsert:
    """For a model whose primary key comes from the database (auto-increment): insert with empty
    placeholders, then seal with the new key, in one transaction. Put it before the model base."""

    def save(self, *args, **kwargs):
        if self.pk is not None:
            return super().save(*args, **kwargs)
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            self._seal_after_insert = True
            try:
                super().save(*args, **kwargs)
            finally:
                self._seal_after_insert = False
            super().save(using=using, update_fields=[f.name for f in encrypted_fields(type(self))])
