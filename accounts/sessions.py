"""Session limits: an idle timeout that polling does not renew, and an absolute lifetime.

Django renews a session's expiry only when the session is saved. ``SESSION_SAVE_EVERY_REQUEST`` would
save it on every request, a results page polling ``/progress/`` every few seconds included, so a
screen left open would never time out. Instead this middleware renews it on signed-in requests except
polling ones, at most once every RENEW_EVERY_SECONDS: each renewal is a write of the session's row (an
UPDATE and a commit), which on every request was a database write per page view. The idle timeout is
therefore measured from the last renewal, at most a minute before the last request: a session idle for
the timeout (30 minutes) less up to a minute ends.

Whatever the activity, a session ends ``SESSION_ABSOLUTE_LIFETIME_HOURS`` after its sign-in: the time
of sign-in is kept in the session and checked on each request.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

SIGNED_IN_AT = "signed_in_at"
RENEWED_AT = "renewed_at"
RENEW_EVERY_SECONDS = 60


def is_polling(request) -> bool:
    return request.path.endswith(tuple(settings.SESSION_POLLING_PATH_SUFFIXES))


def mark_signed_in(session) -> None:
    session[SIGNED_IN_AT] = time.time()


def lifetime_over(session) -> bool:
    started = session.get(SIGNED_IN_AT)
    return started is not None and time.time() - started > settings.SESSION_ABSOLUTE_LIFETIME_HOURS * 3600


class SessionLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            if SIGNED_IN_AT not in request.session:
                # A session from before this rule: its lifetime counts from now.
                mark_signed_in(request.session)
            elif lifetime_over(request.session):
                logout(request)
                hours = settings.SESSION_ABSOLUTE_LIFETIME_HOURS
                messages.info(request, f"Sessions last at most {hours} hours: please sign in again.")
                return redirect_to_login(request.get_full_path())
            if not is_polling(request) and time.time() - request.session.get(RENEWED_AT, 0) >= RENEW_EVERY_SECONDS:
                request.session[RENEWED_AT] = time.time()  # modified: saved, with a new expiry
        return self.get_response(request)
