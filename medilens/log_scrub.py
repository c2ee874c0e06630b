"""Access logs without patient data or credentials in their URLs.

Request lines and referrers carry search terms (``/patients/?q=Okafor`` names a patient, an MRN) and
bearer links (``/files/signed/<token>/``, password-reset and invitation links). ``ScrubFilter`` rewrites
every log record that passes through it: the value of each query parameter not known to be harmless
becomes ``[redacted]``, and the token segments of those paths likewise. It is attached to Django's
console handler and its runserver request log (settings.LOGGING) and to gunicorn's access and error logs
(medilens/gunicorn_config.py).
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# Query parameters whose values name no one and open nothing: paging, filters by id, kind or date.
HARMLESS_PARAMETERS = frozenset(
    {
        "page",
        "page_size",
        "cursor",
        "modality",
        "status",
        "days",
        "patient",
        "created_after",
        "created_before",
        "format",
        "action",
        "biomarker",
    }
)

# A path followed by a query string, in a request line, a referrer or a message.
_QUERY = re.compile(r"(?P<path>/[^\s\"'?#]*)\?(?P<query>[^\s\"'#]*)")
# Path segments that are credentials: download tokens, password-reset (uid and token), invitations.
_TOKEN_PATHS = [
    re.compile(r"(/files/signed/)[^/\s\"'?#]+"),
    re.compile(r"(/password/reset/)(?!sent/|complete/|done/)[^/\s\"'?#]+/[^/\s\"'?#]+"),
    re.compile(r"(/invitations/accept/)[^/\s\"'?#]+"),
]


def _scrub_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        if not equals:
            parts.append(part if not part else REDACTED)
        elif name.lower() in HARMLESS_PARAMETERS:
            parts.append(part)
        else:
            parts.append(f"{name}={REDACTED}")
    return "&".join(parts)


def scrub(text: str) -> str:
    """``text`` with query values and token path segments replaced by ``[redacted]``."""
    text = _QUERY.sub(lambda match: f"{match['path']}?{_scrub_query(match['query'])}", text)
    for pattern in _TOKEN_PATHS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class ScrubFilter(logging.Filter):
    """Rewrites the record's message in place (formatted once, with its arguments) and lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return True
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
