"""The table every route with a path parameter must appear in, and the writes the role matrix sends.

``OBJECT_ROUTES`` says, for each route that reaches one object of a tenant, how to make such an object in
a tenant (the URL's kwargs), how to read its state (to prove a refused request changed nothing) and which
requests to send. The isolation test sends those requests from organization A for B's object and expects
404; the role matrix sends them within one organization and expects allowed or 403.

A new route with a path parameter makes ``test_every_route_with_a_parameter_is_in_the_isolation_table``
fail until it is added here (or, if it reaches no tenant object, to ``NOT_TENANT_OBJECTS`` with a reason);
a new write without a parameter makes the role matrix fail until ``WRITES`` has a request for it.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from allauth.mfa.models import Authenticator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django_scopes import scopes_disabled

from accounts import services
from accounts.models import ApiClient, Invitation, Membership
from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import pipeline
from assessments import services as assessment_services
from assessments.models import Assessment, BiomarkerValue, DiscussionMessage, Patient, UploadedFile
from medilens.testing.factories import make_api_client, make_member
from medilens.testing.mfa import enrol_totp

_serial = itertools.count(1)


def _unique(word: str) -> str:
    return f"{word}-{next(_serial)}"


@dataclass(frozen=True)
class Request:
    """One request of the matrix. ``data`` is a dict or a callable of the tenant (files must be fresh for
    each request). ``allowed`` is what a role holding the permission gets: 200/302 unless the object's
    state makes the action itself refuse (the role check has passed then, and nothing is changed)."""

    data: dict | Callable | None = None
    format: str = "json"  # API requests only: "json" or "multipart"
    allowed: tuple[int, ...] = (200, 201, 302)

    def body(self, tenant):
        return self.data(tenant) if callable(self.data) else (self.data or {})


@dataclass(frozen=True)
class ObjectRoute:
    make: Callable  # (tenant) -> URL kwargs of a fresh object of that tenant
    state: Callable  # (kwargs) -> comparable state of that object
    requests: dict[str, Request] = field(default_factory=dict)  # HTTP method -> request


# --- accounts objects -----------------------------------------------------------------------------------
def _extra_membership(tenant) -> dict:
    slug = tenant.organization.slug
    user = make_member(tenant.organization, Role.TECHNICIAN, email=f"{_unique('extra')}@{slug}.example.org")
    with scopes_disabled():
        return {"pk": Membership.objects.get(organization=tenant.organization, user=user).pk}


def _membership_state(kwargs):
    with scopes_disabled():
        return Membership.objects.filter(pk=kwargs["pk"]).values_list("role", "organization_id").first()


def _member_with_a_factor(tenant) -> dict:
    kwargs = _extra_membership(tenant)
    with scopes_disabled():
        enrol_totp(Membership.objects.get(pk=kwargs["pk"]).user)
    return kwargs


def _factor_state(kwargs):
    with scopes_disabled():
        user_id = Membership.objects.filter(pk=kwargs["pk"]).values_list("user_id", flat=True).first()
    return sorted(Authenticator.objects.filter(user_id=user_id).values_list("type", flat=True))


def _open_invitation(tenant) -> dict:
    invitation, _token = services.invite(
        acting_user=tenant.users[Role.ORG_ADMIN],
        organization=tenant.organization,
        email=f"{_unique('invitee')}@{tenant.organization.slug}.example.org",
        role=Role.CLINICIAN,
    )
    return {"pk": invitation.pk}


def _invitation_state(kwargs):
    with scopes_disabled():
        # The digest and expiry too: a resend changes those.
        fields = ("revoked_at", "accepted_at", "token_digest", "expires_at")
        return Invitation.objects.filter(pk=kwargs["pk"]).values_list(*fields).first()


def _api_client(tenant) -> dict:
    client, _key = make_api_client(tenant.organization, name=f"{tenant.organization.slug} {_unique('partner')}")
    return {"pk": client.pk}


def _api_client_state(kwargs):
    with scopes_disabled():
        return ApiClient.objects.filter(pk=kwargs["pk"]).values_list("revoked_at", "name").first()


# --- patients, assessments, files ---------------------------------------------------------------------
PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
CVD_PANEL = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}


def pdf(name="report.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def make_patient(tenant, *, consent=True, **fields):
    values = {
        "mrn": _unique("MRN"), "given_name": "Ada", "family_name": "Example",
        "date_of_birth": date(1970, 1, 1), "sex_at_birth": "female",
    } | fields
    with organization_scope(tenant.organization):
        return assessment_services.create_patient(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization, consent=consent, **values
        )


def make_assessment(tenant, patient=None, *, status=Assessment.Status.QUEUED, attachments=()):
    patient = patient or make_patient(tenant)
    actor = tenant.users[Role.ORG_ADMIN]
    with organization_scope(tenant.organization):
        assessment = assessment_services.create_assessment(
            actor=actor, organization=tenant.organization, patient=patient, modality="cvd_risk",
            inputs=dict(CVD_PANEL), attachments=attachments,
        )
        path = {
            Assessment.Status.QUEUED: [],
            Assessment.Status.FAILED: [Assessment.Status.RUNNING, Assessment.Status.FAILED],
            Assessment.Status.COMPLETED: [Assessment.Status.RUNNING, Assessment.Status.COMPLETED],
        }[status]
        # Every step under one row lock: in a test with a real worker, the worker takes the message published at
        # creation and may claim the row between two separate transitions (a cvd_risk analysis claims, runs and
        # completes in one transaction). Whoever locks first decides; a worker that completed it first already
        # made the completed assessment asked for.
        if not path:
            return assessment
        with transaction.atomic():
            locked = assessment_services.lock(assessment.pk)
            if locked.status == Assessment.Status.QUEUED:
                for step in path:
                    locked = assessment_services.apply_transition(locked, step, actor=actor)
    if locked.status != status:
        raise AssertionError(f"the test's worker made the assessment {locked.status} first")
    return locked


def _patient(**kwargs):
    return lambda tenant: {"pk": make_patient(tenant, **kwargs).pk}


def _patient_state(kwargs):
    with scopes_disabled():
        return Patient.objects.filter(pk=kwargs["pk"]).values_list(
            "given_name", "family_name", "consent_recorded_at", "updated_at"
        ).first(), Assessment.objects.filter(patient_id=kwargs["pk"]).count()


def _assessment(status=Assessment.Status.QUEUED):
    return lambda tenant: {"pk": make_assessment(tenant, status=status).pk}


def _assessment_state(kwargs):
    with scopes_disabled():
        row = Assessment.objects.filter(pk=kwargs["pk"]).values_list("status", "reviewed_at", "updated_at").first()
        files = UploadedFile.objects.filter(assessment_id=kwargs["pk"]).count()
        comments = DiscussionMessage.objects.filter(discussion__assessment_id=kwargs["pk"]).count()
    return row, files, comments


def _uploaded_file(tenant) -> dict:
    assessment = make_assessment(tenant, attachments=[pdf()])
    with scopes_disabled():
        return {"pk": UploadedFile.objects.filter(assessment=assessment).values_list("pk", flat=True).get()}


def _assessment_with_image(tenant) -> dict:
    """A completed assessment whose explanation has an image in storage (as image modalities write)."""
    from django.core.files.base import ContentFile

    from assessments.models import AIExplanation
    from medilens import storage

    assessment = make_assessment(tenant, status=Assessment.Status.COMPLETED)
    key = storage.object_key(tenant.organization.pk, assessment.pk, "png")
    storage.store(key, ContentFile(b"\x89PNG\r\n\x1a\n-explanation"))
    with scopes_disabled():
        # update_or_create: the session's worker may have analysed the assessment first, explanation included.
        AIExplanation.objects.update_or_create(
            assessment=assessment,
            defaults={"organization": tenant.organization, "summary": "heatmap", "image_key": key},
        )
    return {"pk": assessment.pk}


def _file_state(kwargs):
    with scopes_disabled():
        return UploadedFile.objects.filter(pk=kwargs["pk"]).values_list("assessment_id", "kind").first()


# --- result versions and their artifacts (the test-only test_artifacts analyzer writes a GLB, PNG and JSON)
def _assessment_with_artifacts(tenant) -> dict:
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        assessment = assessment_services.create_assessment(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization, patient=patient,
            modality="test_artifacts",
        )
        assert pipeline.run(assessment.pk) == "completed"
    return {"pk": assessment.pk}


def _result_artifact(tenant) -> dict:
    from assessments.models import ResultArtifact

    assessment_pk = _assessment_with_artifacts(tenant)["pk"]
    with scopes_disabled():
        return {"pk": ResultArtifact.objects.get(version__assessment_id=assessment_pk, role="viewer").pk}


def _artifact_state(kwargs):
    from assessments.models import ResultArtifact

    with scopes_disabled():
        return ResultArtifact.objects.filter(pk=kwargs["pk"]).values_list("version_id", "storage_key", "sha256").first()


# --- FHIR: resources of a result the worker wrote -------------------------------------------------------
def _completed_result(tenant) -> Assessment:
    """A cvd_risk assessment run through the pipeline (biomarkers, score, explanation) with a PDF attached."""
    assessment = make_assessment(tenant, attachments=[pdf()])
    with organization_scope(tenant.organization):
        assert pipeline.run(assessment.pk) == "completed"
    return assessment


def _fhir_assessment(tenant) -> dict:
    return {"pk": str(_completed_result(tenant).pk)}


def _fhir_observation(tenant) -> dict:
    assessment = _completed_result(tenant)
    with scopes_disabled():
        return {"pk": str(BiomarkerValue.objects.filter(assessment=assessment).values_list("pk", flat=True)[0])}


def _fhir_file(tenant) -> dict:
    assessment = _completed_result(tenant)
    with scopes_disabled():
        return {"pk": str(UploadedFile.objects.filter(assessment=assessment).values_list("pk", flat=True).get())}


def _observation_state(kwargs):
    with scopes_disabled():
        return BiomarkerValue.objects.filter(pk=kwargs["pk"]).values_list("value", "flag", "assessment_id").first()
# --- webhooks ------------------------------------------------------------------------------------------
WEBHOOK_URL = "http://127.0.0.1:9/hook"  # loopback is allowed in tests; nothing here sends an event to it


def _webhook_endpoint(tenant) -> dict:
    from webhooks import services as webhook_services

    with organization_scope(tenant.organization):
        endpoint, _secret = webhook_services.create_endpoint(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization, url=WEBHOOK_URL,
            events=["assessment.completed"],
        )
    return {"pk": endpoint.pk}


def _webhook_state(kwargs):
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.filter(pk=kwargs["pk"]).first()
        deliveries = list(WebhookDelivery.objects.filter(endpoint_id=kwargs["pk"]).values_list("status", "manual"))
    if endpoint is None:
        return None
    return endpoint.url, endpoint.events, endpoint.enabled, endpoint.description, endpoint.secret, deliveries


def _finished_delivery(tenant) -> dict:
    from django.utils import timezone

    from webhooks.events import new_message_id
    from webhooks.models import WebhookDelivery

    endpoint_pk = _webhook_endpoint(tenant)["pk"]
    patient = make_patient(tenant)
    with scopes_disabled():
        delivery = WebhookDelivery.objects.create(
            organization=tenant.organization, endpoint_id=endpoint_pk, message_id=new_message_id(),
            event_type="patient.created", event_at=timezone.now(), object_type="patient", object_id=patient.pk,
            status=WebhookDelivery.Status.FAILED, attempts=1,
        )
    return {"pk": endpoint_pk, "delivery_pk": delivery.pk}


def _portal_delivery(tenant) -> dict:
    return {"pk": _finished_delivery(tenant)["delivery_pk"]}


def _delivery_state(kwargs):
    from webhooks.models import WebhookDelivery

    with scopes_disabled():
        return WebhookDelivery.objects.filter(pk=kwargs.get("delivery_pk", kwargs["pk"])).values_list(
            "status", "manual", "attempts"
        ).first()


def _api_client_grant_state(kwargs):
    with scopes_disabled():
        return ApiClient.objects.filter(pk=kwargs["pk"]).values_list("may_manage_webhooks", flat=True).first()


def _patient_form(**overrides):
    return {
        "mrn": _unique("NEW"), "given_name": "Grace", "family_name": "Matrix", "date_of_birth": "1961-03-04",
        "sex_at_birth": "female",
    } | overrides


def _cvd_form(tenant):
    data = {"modality": "cvd_risk"}
    for name, value in CVD_PANEL.items():
        if value is True:
            data[f"inputs-{name}"] = "on"
        elif value is not False:
            data[f"inputs-{name}"] = str(value)
    return data


def _notification(tenant) -> dict:
    """A notification of the tenant's org admin: the role the isolation test sends requests as."""
    from notifications import services as notification_services
    from notifications.kinds import Kind

    with organization_scope(tenant.organization):
        created = notification_services.notify(
            organization=tenant.organization, kind=Kind.MENTION, event_key=_unique("matrix-mention"),
            recipients=[tenant.users[Role.ORG_ADMIN]], link="/",
        )
    return {"pk": created[0].pk}


def _notification_state(kwargs):
    from notifications.models import Notification

    with scopes_disabled():
        return Notification.objects.filter(pk=kwargs["pk"]).values_list("recipient_id", "read_at").first()


OBJECT_ROUTES: dict[str, ObjectRoute] = {
    # accounts
    # Confirmed actions: a GET is the confirmation page; the POST carries the confirmation, so the control
    # request really acts and the refused one proves the guard, not a missing field, kept B's object.
    "accounts:member_role": ObjectRoute(
        make=_extra_membership,
        state=_membership_state,
        requests={"get": Request({"role": Role.AUDITOR}), "post": Request({"role": Role.AUDITOR, "confirm": "yes"})},
    ),
    "accounts:member_remove": ObjectRoute(
        make=_extra_membership,
        state=_membership_state,
        requests={"get": Request(), "post": Request({"confirm": "yes"})},
    ),
    "accounts:member_factor_reset": ObjectRoute(
        make=_member_with_a_factor, state=_factor_state, requests={"post": Request()}
    ),
    "accounts:invitation_revoke": ObjectRoute(
        make=_open_invitation,
        state=_invitation_state,
        requests={"get": Request(), "post": Request({"confirm": "yes"})},
    ),
    "accounts:invitation_resend": ObjectRoute(
        make=_open_invitation, state=_invitation_state, requests={"post": Request()}
    ),
    "accounts:api_client_revoke": ObjectRoute(
        make=_api_client, state=_api_client_state, requests={"get": Request(), "post": Request({"confirm": "yes"})}
    ),
    # portal: patients
    "assessments:patient_detail": ObjectRoute(make=_patient(), state=_patient_state, requests={"get": Request()}),
    "assessments:patient_timeline": ObjectRoute(make=_patient(), state=_patient_state, requests={"get": Request()}),
    "assessments:patient_edit": ObjectRoute(
        make=_patient(),
        state=_patient_state,
        requests={"get": Request(), "post": Request(lambda tenant: _patient_form(given_name="Changed"))},
    ),
    "assessments:patient_consent": ObjectRoute(
        make=_patient(consent=False), state=_patient_state, requests={"post": Request()}
    ),
    "assessments:assessment_create": ObjectRoute(
        make=_patient(), state=_patient_state, requests={"get": Request(), "post": Request(_cvd_form)}
    ),
    # portal: assessments
    "assessments:assessment_detail": ObjectRoute(
        make=_assessment(), state=_assessment_state, requests={"get": Request()}
    ),
    "assessments:assessment_progress": ObjectRoute(
        make=_assessment(), state=_assessment_state, requests={"get": Request()}
    ),
    "assessments:assessment_cancel": ObjectRoute(
        make=_assessment(), state=_assessment_state, requests={"post": Request()}
    ),
    "assessments:assessment_retry": ObjectRoute(
        make=_assessment(Assessment.Status.FAILED), state=_assessment_state, requests={"post": Request()}
    ),
    "assessments:assessment_sign_off": ObjectRoute(
        make=_assessment(Assessment.Status.COMPLETED),
        state=_assessment_state,
        requests={"post": Request({"note": "Reviewed."})},
    ),
    "assessments:assessment_discussion": ObjectRoute(
        make=_assessment(), state=_assessment_state, requests={"post": Request({"body": "Please repeat the panel."})}
    ),
    "assessments:assessment_attach": ObjectRoute(
        make=_assessment(),
        state=_assessment_state,
        requests={"post": Request(lambda tenant: {"attachments": pdf("referral.pdf")})},
    ),
    "assessments:file_download": ObjectRoute(make=_uploaded_file, state=_file_state, requests={"get": Request()}),
    # result versions: a confirmed re-analysis (GET and an unconfirmed POST are the confirmation page), and the
    # artifacts' same-origin reads
    "assessments:assessment_reanalyse": ObjectRoute(
        make=_assessment_with_artifacts,
        state=_assessment_state,
        requests={"get": Request(), "post": Request({"confirm": "yes"})},
    ),
    "assessments:artifact_download": ObjectRoute(
        make=_result_artifact, state=_artifact_state, requests={"get": Request(allowed=(200,))}
    ),
    "assessments:artifact_view": ObjectRoute(
        make=_result_artifact, state=_artifact_state, requests={"get": Request(allowed=(200,))}
    ),
    "assessments:explanation_image": ObjectRoute(
        make=_assessment_with_image, state=_assessment_state, requests={"get": Request()}
    ),
    # portal: PDF reports (a refused request renders nothing; the report itself changes no row)
    "reports:assessment_report": ObjectRoute(
        make=_assessment_with_image, state=_assessment_state, requests={"get": Request(allowed=(200,))}
    ),
    "reports:patient_summary": ObjectRoute(
        make=_patient(), state=_patient_state, requests={"get": Request(allowed=(200,))}
    ),
    # notifications: only the recipient marks one read; another member of the same organization gets the
    # same 404 as another organization's member (the role matrix sends it as every role; test_notifications)
    "notifications:read": ObjectRoute(
        make=_notification, state=_notification_state, requests={"post": Request(allowed=(302, 404))}
    ),
    # API v1
    "api:patient-detail": ObjectRoute(
        make=_patient(),
        state=_patient_state,
        requests={
            "get": Request(),
            "patch": Request({"given_name": "Changed"}),
            "put": Request(lambda tenant: _patient_form(given_name="Replaced")),
        },
    ),
    "api:patient-biomarkers": ObjectRoute(
        make=_patient(), state=_patient_state, requests={"get": Request({"name": "pce_ascvd_10y"}, allowed=(200,))}
    ),
    "api:assessment-detail": ObjectRoute(make=_assessment(), state=_assessment_state, requests={"get": Request()}),
    "api:assessment-cancel": ObjectRoute(make=_assessment(), state=_assessment_state, requests={"post": Request()}),
    "api:assessment-retry": ObjectRoute(
        make=_assessment(Assessment.Status.FAILED), state=_assessment_state, requests={"post": Request()}
    ),
    "api:assessment-attachments": ObjectRoute(
        make=_assessment(),
        state=_assessment_state,
        requests={
            "get": Request(),
            "post": Request(lambda tenant: {"files": [pdf("lab.pdf")]}, format="multipart"),
        },
    ),
    "api:file-download": ObjectRoute(make=_uploaded_file, state=_file_state, requests={"get": Request()}),
    "api:assessment-reanalyse": ObjectRoute(
        make=_assessment_with_artifacts, state=_assessment_state, requests={"post": Request(allowed=(200,))}
    ),
    "api:assessment-artifacts": ObjectRoute(
        make=_assessment_with_artifacts, state=_assessment_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:artifact-download": ObjectRoute(
        make=_result_artifact, state=_artifact_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:assessment-report": ObjectRoute(
        make=_assessment_with_image, state=_assessment_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:assessment-explanation-image": ObjectRoute(
        make=_assessment_with_image, state=_assessment_state, requests={"get": Request()}
    ),
    # API v1: FHIR (read-only; ids as strings, as FHIR's paths carry them)
    "api:fhir-patient": ObjectRoute(make=_patient(), state=_patient_state, requests={"get": Request(allowed=(200,))}),
    "api:fhir-patient-everything": ObjectRoute(
        make=_patient(), state=_patient_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:fhir-observation": ObjectRoute(
        make=_fhir_observation, state=_observation_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:fhir-risk-assessment": ObjectRoute(
        make=_fhir_assessment, state=_assessment_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:fhir-diagnostic-report": ObjectRoute(
        make=_fhir_assessment, state=_assessment_state, requests={"get": Request(allowed=(200,))}
    ),
    "api:fhir-document-reference": ObjectRoute(
        make=_fhir_file, state=_file_state, requests={"get": Request(allowed=(200,))}
    ),
    # API v1: webhooks (a clinician key granted webhooks.manage)
    "api:webhook-detail": ObjectRoute(
        make=_webhook_endpoint,
        state=_webhook_state,
        requests={
            "get": Request(),
            "patch": Request({"description": "Changed"}),
            "put": Request({"url": WEBHOOK_URL, "events": ["patient.created"], "enabled": False}),
            "delete": Request(allowed=(204,)),
        },
    ),
    "api:webhook-rotate": ObjectRoute(make=_webhook_endpoint, state=_webhook_state, requests={"post": Request()}),
    "api:webhook-deliveries": ObjectRoute(make=_webhook_endpoint, state=_webhook_state, requests={"get": Request()}),
    "api:webhook-delivery-resend": ObjectRoute(
        make=_finished_delivery, state=_delivery_state, requests={"post": Request(allowed=(202,))}
    ),
    # portal: webhooks
    "webhooks:delivery_resend": ObjectRoute(make=_portal_delivery, state=_delivery_state, requests={"post": Request()}),
    "webhooks:endpoint_rotate": ObjectRoute(make=_webhook_endpoint, state=_webhook_state, requests={"post": Request()}),
    "webhooks:endpoint_toggle": ObjectRoute(make=_webhook_endpoint, state=_webhook_state, requests={"post": Request()}),
    "webhooks:endpoint_delete": ObjectRoute(make=_webhook_endpoint, state=_webhook_state, requests={"post": Request()}),
    "webhooks:client_grant": ObjectRoute(
        make=_api_client, state=_api_client_grant_state, requests={"post": Request({"grant": "on"})}
    ),
    # portal: retention (the legal hold changes the patient row, so its state shows a refused change)
    "retention:legal_hold": ObjectRoute(
        make=_patient(), state=_patient_state, requests={"post": Request({"hold": "place"})}
    ),
    # portal: the cognitive battery (patient mode); POST starts patient mode for that patient
    "kiosk:start": ObjectRoute(
        make=_patient(), state=_patient_state, requests={"get": Request(), "post": Request()}
    ),
}

# Routes with a path parameter that is not a tenant object, and why.
NOT_TENANT_OBJECTS: dict[str, str] = {
    "accounts:invitation_accept": "public link: the token is the credential (see test_invitations)",
    "password_reset_confirm": "Django's password reset link: uid and token, no tenant object",
    "assessments:signed_download": "signed, expiring token issued after FileDownloadView's permission check",
    "mfa_remove_webauthn": "the signed-in user's own passkey: allauth looks it up among the user's own (test_mfa)",
    "mfa_edit_webauthn": "the signed-in user's own passkey: allauth looks it up among the user's own (test_mfa)",
}

# Valid requests for writes on routes without a parameter (the role matrix sends them).
WRITES: dict[str, dict[str, Request]] = {
    "accounts:members": {"post": Request({"email": "matrix.invitee@example.org", "role": Role.CLINICIAN})},
    "accounts:api_clients": {"post": Request({"name": "Matrix partner", "access": ApiClient.Access.READ_ONLY})},
    "accounts:settings": {"post": Request({"data_retention_days": "3650", "require_consent_for_assessment": "on"})},
    "assessments:patient_create": {"post": Request(lambda tenant: _patient_form(consent="on"))},
    "notifications:read_all": {"post": Request()},
    "notifications:preferences": {"post": Request({"email": ["mention"]})},
    # Outside patient mode (as the matrix sends them): nothing to submit (409), nothing to leave (200).
    "kiosk:submit": {"post": Request(allowed=(409,))},
    "kiosk:exit": {"post": Request({"password": "not checked outside patient mode"})},
    "api:patient-list": {"post": Request(lambda tenant: _patient_form(consent=True))},
    "webhooks:endpoints": {"post": Request({"url": WEBHOOK_URL, "events": ["patient.created"]})},
    "api:webhook-list": {"post": Request({"url": WEBHOOK_URL, "events": ["assessment.completed"]}, allowed=(201,))},
    "api:assessment-list": {
        "post": Request(
            lambda tenant: {"patient": str(make_patient(tenant).pk), "modality": "cvd_risk", "inputs": CVD_PANEL}
        )
    },
}

# Routes that are outside the tenancy guard on purpose; every other route must be an OrganizationMixin
# view (portal) or a TenantAPIView (API).
PUBLIC_ROUTES: dict[str, str] = {
    "healthz": "liveness probe",
    "readyz": "readiness probe",
    "metrics": "Prometheus figures, no tenant data: off unless METRICS_ENABLED, then token or loopback only",
    "login": "sign-in",
    "logout": "sign-out",
    "password_change": "the signed-in user's own password",
    "password_change_done": "static confirmation",
    "password_reset": "same page whether or not the email exists",
    "password_reset_done": "static confirmation",
    "password_reset_confirm": "uid and token link",
    "password_reset_complete": "static confirmation",
    "accounts:switch_organization": "chooses among the user's own memberships (404 for any other)",
    "accounts:invitation_accept": "public link: the token is the credential",
    "api:root": "links to the API's resources and docs: no tenant data",
    "api:schema": "the OpenAPI description: no tenant data",
    "api:docs": "API documentation page (Swagger UI over the schema): no tenant data",
    "api:redoc": "API documentation page (ReDoc over the schema): no tenant data",
    "assessments:signed_download": "the signed, expiring token issued after the permission check is the credential",
    "account_login": "sign-in (the login page under allauth's name)",
    "account_logout": "sign-out (under allauth's name)",
    "account_change_password": "the signed-in user's own password (under allauth's name)",
    "account_reauthenticate": "the signed-in user re-enters their own password",
    "mfa_authenticate": "the second step of sign-in (a pending sign-in in the session)",
    "mfa_index": "the signed-in user's own second factors",
    "mfa_reauthenticate": "the signed-in user's own second factor, again",
    "mfa_activate_totp": "the signed-in user's own second factors",
    "mfa_deactivate_totp": "the signed-in user's own second factors",
    "mfa_view_recovery_codes": "the signed-in user's own recovery codes",
    "mfa_generate_recovery_codes": "the signed-in user's own recovery codes",
    "mfa_download_recovery_codes": "the signed-in user's own recovery codes",
    "mfa_list_webauthn": "the signed-in user's own passkeys",
    "mfa_add_webauthn": "the signed-in user's own passkeys",
    "mfa_reauthenticate_webauthn": "the signed-in user's own passkey, again",
    "mfa_remove_webauthn": "the signed-in user's own passkeys (allauth looks them up by user)",
    "mfa_edit_webauthn": "the signed-in user's own passkeys (allauth looks them up by user)",
    "mfa_login_webauthn": "passkey sign-in",
}
