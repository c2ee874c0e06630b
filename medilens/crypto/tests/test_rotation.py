"""Key rotation keeps every row readable: master key rotation re-wraps the organizations' keys; data key
rotation re-encrypts the rows in batches and can be interrupted and resumed; a retired data key is
destroyed only once nothing needs it. The audit chains still verify."""

import base64
import secrets

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import selectors, services
from assessments.models import Assessment, DiscussionMessage, Patient
from assessments.tests.portal import make_assessment, make_patient
from audit import keys
from audit.models import AuditEvent
from audit.sealing import seal_pending
from audit.verification import verify_one_chain
from medilens.crypto import cipher, keyring, masterkeys
from medilens.crypto import reencrypt_services as reencrypt
from medilens.crypto import rotation_services as rotation
from medilens.crypto.models import OrganizationKey

pytestmark = pytest.mark.django_db


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _population(tenant, count=4):
    patients = [
        make_patient(tenant, f"ROT-{i}", given_name=f"Given{i}", family_name=f"Rotanov{i}", history_notes=f"n{i}")
        for i in range(count)
    ]
    assessment = make_assessment(tenant, patients[0], run=True)
    with organization_scope(tenant.organization):
        services.sign_off(actor=tenant.users["clinician"], assessment=assessment, note="signed by rotation test")
        services.post_discussion_message(
            actor=tenant.users["clinician"], assessment=assessment, body="rotation message"
        )
    return patients, assessment


def _everything_reads(tenant, patients, assessment) -> bool:
    keyring.store().forget()
    with scopes_disabled():
        names = [(p.mrn, p.given_name, p.family_name, p.history_notes) for p in
                 Patient.objects.filter(organization=tenant.organization).order_by("created_at")]
        note = Assessment.objects.get(pk=assessment.pk).review_note
        bodies = [m.body for m in DiscussionMessage.objects.filter(organization=tenant.organization)]
    expected = [(f"ROT-{i}", f"Given{i}", f"Rotanov{i}", f"n{i}") for i in range(len(patients))]
    return names == expected and note == "signed by rotation test" and bodies == ["rotation message"]


def _versions(tenant) -> set:
    with scopes_disabled():
        rows = Patient.objects.filter(organization=tenant.organization)
        return {v for row in rows for v in reencrypt.stored_versions(row)}


def _chains_verify(*tenants) -> bool:
    """Each tenant's audit chain, sealed first, has no problem (the rotation writes events, never edits one)."""
    seal_pending()
    results = [verify_one_chain(t.organization.pk, t.organization.slug, keys.by_id()) for t in tenants]
    return all(result.problem is None and result.not_checked is None for result in results)


def test_master_key_rotation_rewraps_and_the_old_key_can_leave(tenant_a, tenant_b):
    a = _population(tenant_a)
    b = _population(tenant_b, count=2)
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    new = _key()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, *old]):
        new_id = masterkeys.primary().id
        call_command("rotate_encryption_keys", verbosity=0)
        assert set(OrganizationKey.all_organizations.values_list("master_key_id", flat=True)) == {new_id}
    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):
        assert _everything_reads(tenant_a, *a) and _everything_reads(tenant_b, *b)
        with organization_scope(tenant_a.organization):
            assert [p.mrn for p in selectors.patients(search="rotanov2")] == ["ROT-2"]
    with override_settings(FIELD_ENCRYPTION_KEYS=old), pytest.raises(keyring.MasterKeyMismatch):
        _everything_reads(tenant_a, *a)
    keyring.store().forget()
    assert AuditEvent.objects.filter(action="encryption.key_rewrapped").count() == 4  # data + index, two orgs
    assert _chains_verify(tenant_a, tenant_b)


def test_data_key_rotation_reencrypts_every_row_in_batches(tenant_a, tenant_b):
    a = _population(tenant_a)
    b = _population(tenant_b, count=2)
    assert _versions(tenant_a) == {1}
    call_command("rotate_encryption_keys", "--data-keys", "--organization", tenant_a.organization.slug,
                 "--batch-size", "2", verbosity=0)
    assert _versions(tenant_a) == {2} and _versions(tenant_b) == {1}  # only the named organization
    assert _everything_reads(tenant_a, *a) and _everything_reads(tenant_b, *b)
    with organization_scope(tenant_a.organization):
        assert [p.mrn for p in selectors.patients(search="given3 rotanov")] == ["ROT-3"]
    assert _chains_verify(tenant_a, tenant_b)


def test_an_interrupted_reencryption_resumes_where_it_stopped(tenant_a):
    patients, assessment = _population(tenant_a, count=5)
    rotation.new_data_key(tenant_a.organization)

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(label, progress):
        raise Interrupted(label)

    with pytest.raises(Interrupted):
        reencrypt.reencrypt_organization(tenant_a.organization, batch_size=2, report=stop_after_first_batch)
    assert _versions(tenant_a) == {1, 2}  # half done, and every row still readable meanwhile
    assert _everything_reads(tenant_a, patients, assessment)
    call_command("rotate_encryption_keys", "--resume", verbosity=0)
    assert _versions(tenant_a) == {2}
    assert _everything_reads(tenant_a, patients, assessment)
    progress = reencrypt.reencrypt_organization(tenant_a.organization)
    assert progress.reencrypted == 0 and progress.scanned > 5  # a rerun finds nothing left to do


def test_a_retired_data_key_is_destroyed_only_when_nothing_needs_it(tenant_a):
    patients, assessment = _population(tenant_a, count=2)
    rotation.new_data_key(tenant_a.organization)
    with pytest.raises(CommandError, match="retired less than FIELD_ENCRYPTION_KEY_CACHE_SECONDS ago"):
        call_command("rotate_encryption_keys", "--destroy-retired", verbosity=0)
    with override_settings(FIELD_ENCRYPTION_KEY_CACHE_SECONDS=0):
        with pytest.raises(CommandError, match="still hold values of a retired data key"):
            call_command("rotate_encryption_keys", "--destroy-retired", verbosity=0)
        call_command("rotate_encryption_keys", "--resume", verbosity=0)
        call_command("rotate_encryption_keys", "--destroy-retired", verbosity=0)
    versions = OrganizationKey.all_organizations.filter(organization=tenant_a.organization, purpose="data")
    assert list(versions.values_list("version", flat=True)) == [2]
    assert _everything_reads(tenant_a, patients, assessment)


def test_values_name_the_data_key_version_that_sealed_them(tenant_a):
    patient = make_patient(tenant_a, "V-1")
    with scopes_disabled():
        stored = Patient.objects.filter(pk=patient.pk).values_list("mrn", flat=True).get()
    assert cipher.key_version(str(stored)) == 1


def test_an_unknown_organization_or_batch_size_is_a_clear_command_error(tenant_a):
    with pytest.raises(CommandError, match="No organization with slug: nope"):
        call_command("rotate_encryption_keys", "--resume", "--organization", "nope", verbosity=0)
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("rotate_encryption_keys", "--batch-size", "0", verbosity=0)
