"""The retention page (who will be purged in the next 30 days) and the legal hold toggle, for org admins."""

from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tests.tenant_routes import make_patient
from assessments.models import Patient
from audit.models import AuditEvent

from .helpers import age

RETENTION = 2555


def test_admins_see_who_is_due_in_the_next_30_days_and_who_is_held(tenant_a, tenant_b):
    due_soon = make_patient(tenant_a, family_name="Duesoon")
    overdue = make_patient(tenant_a, family_name="Overdue")
    later = make_patient(tenant_a, family_name="Later")
    held = make_patient(tenant_a, family_name="Heldback")
    theirs = make_patient(tenant_b, family_name="Otherclinic")
    age(due_soon, days=RETENTION - 10)
    age(overdue, days=RETENTION + 2)
    age(later, days=RETENTION - 40)
    age(held, days=RETENTION + 5)
    age(theirs, days=RETENTION + 5)
    with scopes_disabled():
        Patient.objects.filter(pk=held.pk).update(legal_hold=True)

    response = tenant_a.client_for(Role.ORG_ADMIN).get(reverse("retention:upcoming"))

    assert response.status_code == 200
    page = response.content.decode()
    due_section, held_section = page.split('id="held-heading"')
    assert due_section.index("Overdue") < due_section.index("Duesoon"), "soonest first"
    assert "Later" not in page
    assert "Heldback" not in due_section and "Heldback" in held_section
    assert "Otherclinic" not in page


def test_only_admins_reach_the_page(tenant_a):
    for role in (Role.CLINICIAN, Role.TECHNICIAN, Role.AUDITOR):
        assert tenant_a.client_for(role).get(reverse("retention:upcoming")).status_code == 403


def test_the_settings_page_links_to_it(tenant_a):
    page = tenant_a.client_for(Role.ORG_ADMIN).get(reverse("accounts:settings")).content.decode()
    assert reverse("retention:upcoming") in page


def test_an_admin_places_and_releases_a_hold_from_the_patient_page(tenant_a):
    patient = make_patient(tenant_a)
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    detail = reverse("assessments:patient_detail", args=[patient.pk])
    assert "Place legal hold" in admin.get(detail).content.decode()
    url = reverse("retention:legal_hold", args=[patient.pk])

    response = admin.post(url, {"hold": "place"})

    assert response.status_code == 302 and response["Location"] == detail
    with scopes_disabled():
        assert Patient.objects.get(pk=patient.pk).legal_hold is True
    assert "Release legal hold" in admin.get(detail).content.decode()
    admin.post(url, {"hold": "release", "next": reverse("retention:upcoming")})
    with scopes_disabled():
        assert Patient.objects.get(pk=patient.pk).legal_hold is False
    events = AuditEvent.objects.filter(target_id=str(patient.pk), action__startswith="patient.legal_hold")
    assert list(events.order_by("sequence").values_list("action", "actor_label")) == [
        ("patient.legal_hold_placed", tenant_a.users[Role.ORG_ADMIN].email),
        ("patient.legal_hold_released", tenant_a.users[Role.ORG_ADMIN].email),
    ]


def test_a_clinician_neither_sees_nor_uses_the_hold(tenant_a):
    patient = make_patient(tenant_a)
    clinician = tenant_a.client_for(Role.CLINICIAN)
    assert "legal hold" not in clinician.get(reverse("assessments:patient_detail", args=[patient.pk])).content.decode()
    assert clinician.post(reverse("retention:legal_hold", args=[patient.pk]), {"hold": "place"}).status_code == 403
    with scopes_disabled():
        assert Patient.objects.get(pk=patient.pk).legal_hold is False


def test_a_bad_hold_value_changes_nothing(tenant_a):
    patient = make_patient(tenant_a)
    admin = tenant_a.client_for(Role.ORG_ADMIN)

    response = admin.post(reverse("retention:legal_hold", args=[patient.pk]), {"hold": "maybe"})

    assert response.status_code == 302
    assert "Choose whether to place or release the legal hold." in admin.get(response["Location"]).content.decode()
    with scopes_disabled():
        assert Patient.objects.get(pk=patient.pk).legal_hold is False
    assert not AuditEvent.objects.filter(action__startswith="patient.legal_hold").exists()
