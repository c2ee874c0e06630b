"""Session limits: an idle timeout that polling does not renew, and an absolute lifetime.

Django renews a session's expiry only when the session is saved. ``SESSION_SAVE_EVERY_REQUEST`` would
save it on every request, a results page polling ``/progress/`` every few seconds included, so a
screen left open would never time out. Instead this middleware marks the session modified (renewing
it) on every signed-in request except polling ones.

Whatever the activity, a session ends ``SESSION_ABSOLUTE_LIFETIME_HOURS`` after its sign-in: the time
of sign-in is kept in the session and checked on each request.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

SIGNED_IN_AT = "signed_in_at"


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
            if not is_polling(request):
                request.session.modified = True
        return self.get_response(request)
