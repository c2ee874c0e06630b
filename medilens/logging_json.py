"""One JSON object a log line (LOG_FORMAT=json), carrying only what is known to hold no PHI.

python-json-logger would add every ``extra`` attribute of a record: Django's request log puts the request
object there, whose text is its full path (a download token, a search term). So a line carries the format's
fields, the request id, the status code and the exception text, and nothing else; each string goes through
the same scrub as the message (medilens/log_scrub.py), an exception's text included.
"""

from __future__ import annotations

from pythonjsonlogger.json import JsonFormatter

from medilens.log_scrub import scrub

FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}
# Extras a record may carry into the line besides the format's fields.
EXTRAS = frozenset({"status_code", "exc_info", "stack_info", "taskName"})


class ScrubbedJsonFormatter(JsonFormatter):
    def __init__(self, fmt: str = FIELDS, **kwargs):
        kwargs.setdefault("rename_fields", RENAMED)
        super().__init__(fmt, **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        keep = {self._get_rename(field) for field in self._required_fields} | EXTRAS
        for key in list(log_data):
            value = log_data[key]
            if key not in keep:
                del log_data[key]
            elif isinstance(value, str):
                log_data[key] = scrub(value)
