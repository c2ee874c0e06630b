"""Bad archives and bad targets: a clear message, and nothing changed. Run with --force against the test
database and bucket, so that "nothing changed" is checked on a target the restore would otherwise replace."""

import io
import tarfile

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from pyrage import x25519

from medilens.backup import archive, database, keys, manifest
from medilens.backup.objects import list_objects
from retention.tests.helpers import full_patient

from .test_round_trip import backup

pytestmark = pytest.mark.django_db(transaction=True)


def state() -> tuple:
    counts, migrations = database.current_state()
    return counts, migrations, sorted((o.key, o.size) for o in list_objects(default_storage))


def restore_refused(path, *args) -> str:
    before = state()
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(path), *args, stdout=io.StringIO())
    assert state() == before, "a refused restore changed the database or the storage"
    return str(refused.value)


def flip_byte(path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.mark.parametrize("where", ["middle", "end"])
def test_one_changed_byte_is_refused_and_changes_nothing(where, tenant_a, source_storage, backup_key, tmp_path):
    full_patient(tenant_a)
    path, _manifest = backup(tmp_path)
    size = path.stat().st_size
    flip_byte(path, size // 2 if where == "middle" else size - 3)

    message = restore_refused(path, "--force")

    assert "the archive is damaged or was altered" in message
    with pytest.raises(CommandError, match="damaged or was altered"):
        call_command("verify_backup", str(path))


def test_a_cut_archive_is_refused(tenant_a, source_storage, backup_key, tmp_path):
    full_patient(tenant_a)
    path, _manifest = backup(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.tar.age"
    cut.write_bytes(data[: len(data) - 200])

    assert "damaged or was altered" in restore_refused(cut, "--force")


def test_a_wrong_key_is_refused_and_changes_nothing(tenant_a, source_storage, backup_key, tmp_path):
    full_patient(tenant_a)
    path, _manifest = backup(tmp_path)
    with override_settings(BACKUP_ENCRYPTION_KEY=str(x25519.Identity.generate())):
        message = restore_refused(path, "--force")
    assert "BACKUP_ENCRYPTION_KEY does not open this archive" in message


def test_a_missing_or_malformed_key_is_named(tenant_a, source_storage, tmp_path):
    for value, expected in (("", "BACKUP_ENCRYPTION_KEY is not set"), ("change-me", "not an age X25519 identity")):
        with override_settings(BACKUP_ENCRYPTION_KEY=value), pytest.raises(CommandError, match=expected):
            call_command("backup", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def _archive_with_header(path, header: dict) -> None:
    with archive.encrypted_writer(path, keys.recipient()) as raw, tarfile.open(fileobj=raw, mode="w|") as tar:
        archive.add_json(tar, archive.HEADER, header)


def test_an_archive_of_a_newer_version_is_refused_and_changes_nothing(tenant_a, source_storage, backup_key, tmp_path):
    full_patient(tenant_a)
    _counts, migrations = database.current_state()
    migrations = {**migrations, "assessments": [*migrations["assessments"], "9999_from_a_later_release"]}
    path = tmp_path / "newer.tar.age"
    _archive_with_header(
        path, manifest.header(created_at="2030-01-01T00:00:00+00:00", vendor="postgresql", migrations=migrations,
                              storage="s3")
    )

    message = restore_refused(path, "--force")

    assert "made by a newer MediLens" in message and "assessments.9999_from_a_later_release" in message


def test_a_file_that_is_not_an_archive_is_refused(tenant_a, source_storage, backup_key, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an archive")
    assert "not a MediLens archive" in restore_refused(path, "--force")


def test_a_non_empty_target_is_refused_without_force(tenant_a, source_storage, backup_key, tmp_path):
    full_patient(tenant_a)
    path, _manifest = backup(tmp_path)
    message = restore_refused(path)
    assert "the database already has" in message and "pass --force" in message


def test_the_archive_never_holds_a_secret_setting(tenant_a, source_storage, backup_key, tmp_path):
    audit_key = "audit-hmac-key-" + "k" * 40
    field_keys = list(settings.FIELD_ENCRYPTION_KEYS)  # the session's real master key: the data is sealed with it
    with override_settings(AUDIT_HMAC_KEY=[audit_key]):
        full_patient(tenant_a)
        path, _manifest = backup(tmp_path)
        plain = io.BytesIO()
        with archive.decrypted_reader(path, keys.identity()) as reader:
            while chunk := reader.read(65536):
                plain.write(chunk)
        for secret in (audit_key, field_keys[0], backup_key, settings.SECRET_KEY):
            assert secret.encode() not in plain.getvalue()
        assert b"assessments_patient" in plain.getvalue()  # the control: this is the decrypted archive

        # A stored object that holds a key (a misconfiguration): the backup stops and leaves no file.
        default_storage.save("org/1/leak.txt", ContentFile(b"oops " + field_keys[0].encode() + b" oops"))
        with pytest.raises(CommandError, match="would contain the value of a secret setting"):
            call_command("backup", str(tmp_path / "second.tar.age"))
    assert not (tmp_path / "second.tar.age").exists()
    assert not list(tmp_path.glob("*.partial"))
