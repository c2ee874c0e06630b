"""What a session in patient (kiosk) mode holds: ``request.session["kiosk"] = {"patient": id, "organization": id,
"started": iso time, "protocol": {...}, "assessment": id or None}``, from the moment the clinician starts the
battery (``views.CognitiveStartView``) until the clinician signs in again on the kiosk's exit page
(``views.KioskExitView``) or signs out."""

from __future__ import annotations

from django.utils import timezone

SESSION_KEY = "kiosk"


def current(request) -> dict | None:
    """The running kiosk of this session, or None."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    kiosk = session.get(SESSION_KEY)
    return kiosk if isinstance(kiosk, dict) and kiosk.get("patient") else None


def start(request, *, patient, organization, protocol: dict) -> dict:
    kiosk = {
        "patient": str(patient.pk),
        "organization": organization.pk,
        "user": request.user.pk,
        "started": timezone.now().isoformat(),
        "protocol": protocol,
        "assessment": None,
    }
    request.session[SESSION_KEY] = kiosk
    return kiosk


def update(request, **changes) -> dict:
    kiosk = {**current(request), **changes}
    request.session[SESSION_KEY] = kiosk
    return kiosk


def end(request) -> dict | None:
    return request.session.pop(SESSION_KEY, None)
