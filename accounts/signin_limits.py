"""Limits on sign-in and password-reset attempts, besides django-axes' (account, address) lockout.

- Per address: more than ``LOGIN_ADDRESS_FAILURE_LIMIT`` failed sign-ins from one address, whatever the
  accounts, within ``LOGIN_ADDRESS_WINDOW_MINUTES`` refuse further sign-ins from it until the window
  ends. axes alone lets one address try one password on every account (password spraying).
- Per account: each failure past ``AXES_FAILURE_LIMIT`` doubles a wait during which the account's
  sign-ins are refused from every address: 1 s after the first failure past it, then 2, 4, 8 s..., up to
  ``LOGIN_ACCOUNT_DELAY_MAX_SECONDS``. A wait, not a lockout, so nobody can lock a clinician out by
  failing on purpose; the first failures are left to axes, which already stops one address at its limit,
  so this only slows guessing spread over many addresses.
- Password reset: ``PASSWORD_RESET_ADDRESS_LIMIT`` requests an hour from one address and
  ``PASSWORD_RESET_ACCOUNT_LIMIT`` for one email address, known or not (so the answer reveals nothing).

The second factor counts exactly as the password does (``record_failure``). Counters live in the cache
(Redis in production), keyed by a digest of the email, never the email itself. Refused attempts are
not counted, so a refusal never extends itself.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

_DAY = 24 * 60 * 60
_HOUR = 60 * 60


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int  # seconds


def _now() -> float:
    """The clock (a function, so tests can move it)."""
    return time.time()


def _digest(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]


def _address(request) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else "") or "unknown"


def _count(key: str, window: int) -> int:
    """Add one to a counter that lives ``window`` seconds from its first count."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


def _wait_for(failures: int) -> int:
    past_limit = failures - settings.AXES_FAILURE_LIMIT
    if past_limit <= 0:
        return 0
    return min(2 ** min(past_limit - 1, 30), settings.LOGIN_ACCOUNT_DELAY_MAX_SECONDS)


# --- sign-in -----------------------------------------------------------------------------------------
def _address_key(request) -> str:
    return f"limits:signin:address:{_address(request)}"


def _account_keys(email: str) -> tuple[str, str]:
    digest = _digest(email)
    return f"limits:signin:account:{digest}:failures", f"limits:signin:account:{digest}:last"


def sign_in_refusal(request, email: str | None) -> Refusal | None:
    """Why a sign-in attempt (password or second factor) must be refused now, or None."""
    window = settings.LOGIN_ADDRESS_WINDOW_MINUTES * 60
    if (cache.get(_address_key(request)) or 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        minutes = settings.LOGIN_ADDRESS_WINDOW_MINUTES
        return Refusal(
            f"Too many failed sign-ins from your network. Try again in {minutes} minutes.", retry_after=window
        )
    if email:
        failures_key, last_key = _account_keys(email)
        wait = _wait_for(cache.get(failures_key) or 0)
        remaining = (cache.get(last_key) or 0) + wait - _now()
        if wait and remaining > 0:
            seconds = math.ceil(remaining)
            return Refusal(
                f"Too many failed sign-ins for this account. Wait {seconds} second{'s' if seconds != 1 else ''} "
                "and try again.",
                retry_after=seconds,
            )
    return None


def record_failure(request, email: str | None) -> None:
    """One failed sign-in step (wrong password, wrong or reused second-factor code, refused passkey)."""
    _count(_address_key(request), settings.LOGIN_ADDRESS_WINDOW_MINUTES * 60)
    if email:
        failures_key, last_key = _account_keys(email)
        _count(failures_key, _DAY)
        cache.touch(failures_key, _DAY)
        cache.set(last_key, _now(), timeout=_DAY)


def record_success(email: str) -> None:
    """A completed sign-in ends the account's run of failures."""
    cache.delete_many(list(_account_keys(email)))


# --- password reset ----------------------------------------------------------------------------------
def password_reset_refusal(request, email: str) -> Refusal | None:
    """Counts this request, and says why it must be refused (one answer for known and unknown emails)."""
    by_address = _count(f"limits:reset:address:{_address(request)}", _HOUR)
    by_account = _count(f"limits:reset:account:{_digest(email)}", _HOUR)
    if by_address > settings.PASSWORD_RESET_ADDRESS_LIMIT:
        return Refusal("Too many password reset requests from your network. Try again in an hour.", _HOUR)
    if by_account > settings.PASSWORD_RESET_ACCOUNT_LIMIT:
        return Refusal("Too many password reset requests for this email address. Try again in an hour.", _HOUR)
    return None
