"""Portal pages of the cognitive battery: the clinician starts patient (kiosk) mode from a patient's page, the
patient does the battery in the browser (static/js/cognitive-battery.js), the raw responses come back as
JSON and become a queued assessment through ``assessments.services.create_assessment``, and the clinician
leaves patient mode by entering their password again. Starting and leaving are written by ``services``.

Kiosk pages show nothing about the patient or anyone else: the patient holds a device signed in as the
clinician, and ``kiosk.middleware.KioskMiddleware`` keeps that session on these pages until the clinician
signs in again (or signs out).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from accounts.access import OrganizationMixin
from assessments import services as assessment_services
from assessments.models import Patient
from audit.models import AuditEvent
from medilens import safe_json
from modalities.cognitive.inputs import RT_TRIALS
from modalities.cognitive.protocol import RESPONSE_WINDOW_MS, WORD_LISTS

from . import services
from . import session as kiosk
from .services import MODALITY

# How the browser paces the battery. "standard" is the administration the scoring notes describe: a word
# every 2.5 s (2 s shown), a digit a second (as digit span is usually read), 20 reaction-time trials with a
# 1.5-4 s random foreperiod (unpredictable, so the press is a reaction, not a rhythm). "fast" exists for
# the browser tests only (settings.COGNITIVE_BATTERY_TIMING = "fast"); its results say so in their notes.
TIMINGS = {
    "standard": {
        "word_ms": 2000, "word_gap_ms": 500, "digit_ms": 800, "digit_gap_ms": 200, "rt_trials": 20,
        "foreperiod_min_ms": 1500, "foreperiod_max_ms": 4000, "rt_window_ms": RESPONSE_WINDOW_MS,
        "feedback_ms": 700,
    },
    "fast": {
        "word_ms": 60, "word_gap_ms": 20, "digit_ms": 60, "digit_gap_ms": 20, "rt_trials": RT_TRIALS[0],
        "foreperiod_min_ms": 300, "foreperiod_max_ms": 500, "rt_window_ms": RESPONSE_WINDOW_MS,
        "feedback_ms": 50,
    },
}


def _timing() -> tuple[str, dict]:
    name = getattr(settings, "COGNITIVE_BATTERY_TIMING", "standard")
    return (name, TIMINGS[name]) if name in TIMINGS else ("standard", TIMINGS["standard"])


def _no_store(response):
    # Kiosk pages must not come back from the browser's cache once the clinician has left patient mode.
    response["Cache-Control"] = "no-store"
    return response


def _consent_missing(request, patient) -> bool:
    return request.organization.require_consent_for_assessment and not patient.has_consent


def protocol_mismatch(protocol: dict, responses) -> str | None:
    """Responses posted from the kiosk must be answers to what this session presented. Structure is left to
    the analyzer's validation; only values that are there are compared."""
    if not isinstance(responses, dict):
        return None
    recall = responses.get("word_recall")
    if isinstance(recall, dict) and "words" in recall and recall["words"] != protocol["words"]:
        return "The word list does not match the one this session presented."
    span = responses.get("digit_span")
    if isinstance(span, dict):
        for direction in ("forward", "backward"):
            trials = span.get(direction)
            if not isinstance(trials, list):
                continue
            if len(trials) > len(protocol[direction]):
                return f"More {direction} digit-span trials than this session presented."
            for trial, presented in zip(trials, protocol[direction], strict=False):
                if isinstance(trial, dict) and trial.get("presented") != presented:
                    return f"The {direction} digit sequences do not match the ones this session presented."
    return None


class CognitiveStartView(OrganizationMixin, View):
    """The clinician's page before handing the device over; POST starts patient mode."""

    required_permission = "assessments.create"
    template_name = "kiosk/start.html"

    def get(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        assessment_services.record_view(actor=request.user, organization=request.organization, obj=patient)
        return self.render_page(patient)

    def post(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        try:
            protocol = services.start_battery(actor=request.user, organization=request.organization, patient=patient)
        except ValidationError:  # the page says why: the consent is missing
            return self.render_page(patient, status=400)
        kiosk.start(request, patient=patient, organization=request.organization, protocol=protocol)
        return redirect("kiosk:battery")

    def render_page(self, patient, *, status=200):
        _name, timing = _timing()
        context = {
            "patient": patient,
            "consent_missing": _consent_missing(self.request, patient),
            "rt_trials": timing["rt_trials"],
            "list_length": len(WORD_LISTS["A"]),
        }
        return render(self.request, self.template_name, context, status=status)


class KioskMixin(OrganizationMixin):
    """A kiosk page: needs a running kiosk of this organization in the session (else a page saying none
    is running)."""

    required_permission = "assessments.create"

    def running_kiosk(self):
        running = kiosk.current(self.request)
        if running is None or running.get("organization") != self.request.organization.pk:
            return None
        return running

    def no_kiosk(self):
        # A page of its own, not a redirect: a bookmarked or stale kiosk URL says plainly what happened.
        return _no_store(render(self.request, "kiosk/no_kiosk.html"))


class KioskBatteryView(KioskMixin, View):
    def get(self, request):
        running = self.running_kiosk()
        if running is None:
            return self.no_kiosk()
        if running.get("assessment"):
            return redirect("kiosk:done")
        timing_name, timing = _timing()
        context = {
            "protocol": running["protocol"],
            "timing_name": timing_name,
            "timing": timing,
            "submit_url": reverse("kiosk:submit"),
        }
        return _no_store(render(request, "kiosk/battery.html", context))


class KioskSubmitView(KioskMixin, View):
    """The battery's raw responses (JSON) -> a queued cognitive assessment. Answers JSON: 201 with the page
    to go to; 400 with field errors; 409 when no battery is running. A repeated post after success answers
    the same page again and creates nothing (the browser may retry after a lost connection)."""

    def post(self, request):
        running = self.running_kiosk()
        if running is None:
            return JsonResponse({"error": "No cognitive battery is running in this session."}, status=409)
        if running.get("assessment"):
            return JsonResponse({"redirect": reverse("kiosk:done")}, status=200)
        try:
            responses = safe_json.loads(request.body or b"null")
        except RequestDataTooBig:
            too_large = "The responses are larger than this page accepts."
            return JsonResponse({"errors": {"inputs": [too_large]}}, status=413)
        except safe_json.JSONTooDeep as error:
            return JsonResponse({"errors": {"inputs": [str(error)]}}, status=400)
        except ValueError:
            return JsonResponse({"errors": {"inputs": ["The responses are not valid JSON."]}}, status=400)
        mismatch = protocol_mismatch(running["protocol"], responses)
        if mismatch:
            return JsonResponse({"errors": {"inputs": [mismatch]}}, status=400)
        patient = Patient.objects.filter(pk=running["patient"]).first()
        if patient is None:
            return JsonResponse({"error": "The patient of this battery is no longer available."}, status=409)
        try:
            assessment = assessment_services.create_assessment(
                actor=request.user,
                organization=request.organization,
                patient=patient,
                modality=MODALITY,
                inputs=responses if isinstance(responses, dict) else None,
            )
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {"inputs": error.messages}
            return JsonResponse({"errors": errors}, status=400)
        kiosk.update(request, assessment=str(assessment.pk), finished=timezone.now().isoformat())
        return JsonResponse({"redirect": reverse("kiosk:done")}, status=201)


class KioskDoneView(KioskMixin, View):
    def get(self, request):
        running = self.running_kiosk()
        if running is None:
            return self.no_kiosk()
        if not running.get("assessment"):
            return redirect("kiosk:battery")
        return _no_store(render(request, "kiosk/thank_you.html"))


class KioskExitView(KioskMixin, View):
    """Leaving patient mode: the signed-in clinician's password, checked by ``authenticate`` (so django-axes
    counts failures and locks out after its limit), never by comparing hashes here. Every attempt is
    audited as ``kiosk.exited`` with its outcome."""

    template_name = "kiosk/exit.html"

    def get(self, request):
        if self.running_kiosk() is None:
            return self.no_kiosk()
        return _no_store(render(request, self.template_name))

    def post(self, request):
        running = self.running_kiosk()
        if running is None:
            return self.no_kiosk()
        password = request.POST.get("password", "")
        user = authenticate(request, username=request.user.email, password=password) if password else None
        if user is not None and user.pk == request.user.pk:
            return self.leave(running)
        locked = bool(getattr(request, "axes_locked_out", False))
        if locked:
            # Answered here, inside the kiosk page, instead of by AxesMiddleware's lockout page: that page has
            # the portal's navigation, which patient mode must not show. The lockout itself stands.
            del request.axes_locked_out
        self.audit(running, outcome=AuditEvent.Outcome.DENIED if locked else AuditEvent.Outcome.FAILURE,
                   reason="locked out" if locked else ("no password" if not password else "wrong password"))
        context = {"error": "locked" if locked else "wrong", "cooloff_minutes": self.cooloff_minutes()}
        return _no_store(render(request, self.template_name, context, status=403 if locked else 400))

    def leave(self, running):
        request = self.request
        kiosk.end(request)
        request.session.cycle_key()
        self.audit(running, outcome=AuditEvent.Outcome.SUCCESS, reason="")
        messages.success(request, "Patient mode ended.")
        if running.get("assessment"):
            return redirect("assessments:assessment_detail", pk=running["assessment"])
        return redirect("assessments:patient_detail", pk=running["patient"])

    def audit(self, running, *, outcome, reason: str) -> None:
        services.record_exit(
            actor=self.request.user,
            organization_id=self.request.organization.pk,
            running=running,
            via="password",
            outcome=outcome,
            reason=reason,
        )

    @staticmethod
    def cooloff_minutes() -> int:
        cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
        return int(cooloff.total_seconds() // 60) if cooloff else 15
