"""Migration 0017 gives every assessment completed before result versions its version 1: the result on the
row, its biomarker values and explanation, and its sign-off with the note (opened and sealed again for the
version's row). Assessments that are not completed get none."""

from datetime import UTC, datetime

import pytest

from medilens.testing.migrations import leaves, migrate

BEFORE = [("assessments", "0016_result_versions")]
AFTER = [("assessments", "0017_result_version_one")]


@pytest.fixture
def at_0015(transactional_db):
    # rls.0003 depends on assessments 0017: going back unapplies it.
    apps = migrate([*BEFORE, *(leaf for leaf in leaves() if leaf[0] not in ("assessments", "rls"))])
    try:
        yield apps
    finally:
        migrate(leaves())


def test_completed_assessments_get_version_one_with_their_sign_off(at_0015):
    from accounts.models import User

    organization = at_0015.get_model("accounts", "Organization").objects.create(slug="m16", name="M16")
    reviewer = User.objects.create(email="reviewer@m16.example.org")
    Patient = at_0015.get_model("assessments", "Patient")  # noqa: N806 - a model class
    Assessment = at_0015.get_model("assessments", "Assessment")  # noqa: N806
    patient = Patient(organization=organization, mrn="M16-1", mrn_index="c" * 64, given_name="A", family_name="B",
                      date_of_birth=datetime(1970, 1, 1).date(), sex_at_birth="male")
    patient.save()
    done_at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    signed = Assessment(
        organization=organization, patient=patient, modality="cvd_risk", status="completed", risk_score=7.5,
        risk_level="intermediate", results={"schema_version": 2}, method_version="cvd 1", completed_at=done_at,
        reviewed_by_id=reviewer.pk, reviewed_at=done_at, review_note="Discussed with the patient.",
    )
    signed.save()
    at_0015.get_model("assessments", "BiomarkerValue").objects.create(
        organization=organization, assessment=signed, patient=patient, name="pce_ascvd_10y", category="risk",
        value=7.5, unit="%", flag="intermediate", measured_at=done_at,
    )
    at_0015.get_model("assessments", "AIExplanation").objects.create(
        organization=organization, assessment=signed, summary="why", image_key="org/1/x.png"
    )
    queued = Assessment(organization=organization, patient=patient, modality="cvd_risk", status="queued")
    queued.save()

    apps = migrate(AFTER)
    versions = list(apps.get_model("assessments", "ResultVersion").objects.all())
    assert len(versions) == 1
    version = versions[0]
    assert (version.assessment_id, version.number, version.risk_score, version.method_version) == (
        signed.pk, 1, 7.5, "cvd 1"
    )
    assert version.created_at == done_at
    assert [(b["name"], b["value"]) for b in version.biomarkers] == [("pce_ascvd_10y", 7.5)]
    assert (version.explanation_summary, version.explanation_image_key) == ("why", "org/1/x.png")
    assert (version.signed_off_by_id, version.signed_off_at) == (reviewer.pk, done_at)
    assert version.review_note == "Discussed with the patient."
