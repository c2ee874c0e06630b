"""Keeping PHI out of request log lines.

A search puts names, MRNs or dates of birth in the query string (``/patients/?q=Castillo``). Django's own
request logs (``django.request``) name the path only; the development server's access log
(``django.server``) prints the whole request line. This filter keeps the method, path and protocol and
drops the query string. (Production runs gunicorn without an access log; README says to keep query
strings out of one if it is turned on.)
"""

import logging
import re

_QUERY = re.compile(r"\?[^\s\"]*")
REDACTED = "?[query removed]"


def redact(text: str) -> str:
    return _QUERY.sub(REDACTED, text)


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
