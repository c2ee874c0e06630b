"""The whole path through a real Celery worker: an assessment the worker completes queues, after its
commit, the task that tells the requester; the notification shows under the requester's bell."""

import time
from datetime import date

import pytest

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from medilens.testing.fixtures import build_tenant
from notifications.kinds import Kind
from notifications.models import Notification

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PANEL = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}


def wait_for_notification(user, timeout=30.0) -> Notification:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with scopes_disabled():
            found = Notification.objects.filter(recipient=user).first()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError("no notification reached the requester")


def test_the_worker_tells_the_requester_when_their_assessment_completes(celery_worker):
    tenant = build_tenant("clinic-n")
    requester = tenant.users[Role.TECHNICIAN]
    with organization_scope(tenant.organization):
        patient = services.create_patient(
            actor=requester, organization=tenant.organization, consent=True, mrn="N-1", given_name="Ada",
            family_name="Example", date_of_birth=date(1970, 1, 1), sex_at_birth="female",
        )
        assessment = services.create_assessment(
            actor=requester, organization=tenant.organization, patient=patient, modality="cvd_risk", inputs=PANEL,
        )
    notification = wait_for_notification(requester)
    assert notification.kind == Kind.ASSESSMENT_COMPLETED
    assert notification.link == f"/assessments/{assessment.pk}/"
    client = tenant.client_for(Role.TECHNICIAN)
    assert 'data-unread="1"' in client.get("/").content.decode()
