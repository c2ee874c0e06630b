"""gunicorn's configuration: ``gunicorn -c python:medilens.gunicorn_config medilens.wsgi:application``.

The access log is on (a hospital's security team expects one), in the combined format with the request's
duration and its request id (the X-Request-ID the app answered with, so an access line meets the app's
lines), and scrubbed: query values that are not known to be harmless (a patient search, ``?q=``) and
bearer links (download, password-reset, invitation tokens) are written as ``[redacted]``
(medilens.log_scrub). Under LOG_FORMAT=json (the production default) both gunicorn logs write JSON lines.
Bind address and workers stay on the command line.

With PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its live gauges dropped from the figures
(medilens/metrics): the directory must be emptied before gunicorn starts (README, "Deployment: metrics").
"""

import os

from gunicorn.glogging import Logger

from medilens.log_scrub import ScrubFilter

accesslog = "-"
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}o)s'
)

_SCRUB = ScrubFilter()


def _json_wanted() -> bool:
    default = "plain" if not os.environ.get("DATABASE_URL") else "json"
    return os.environ.get("LOG_FORMAT", default) == "json"


class ScrubbingLogger(Logger):
    """gunicorn's logger with the scrub filter on its access and error logs (``addFilter`` skips a filter
    already there, so a configuration reload does not stack it), and JSON lines when LOG_FORMAT=json."""

    def setup(self, cfg):
        super().setup(cfg)
        self.access_log.addFilter(_SCRUB)
        self.error_log.addFilter(_SCRUB)
        if _json_wanted():
            from medilens.logging_json import ScrubbedJsonFormatter

            formatter = ScrubbedJsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            for handler in [*self.access_log.handlers, *self.error_log.handlers]:
                handler.setFormatter(formatter)


logger_class = ScrubbingLogger


def post_worker_init(worker):
    """Once the worker has loaded the application: its heap frozen out of the collector's reach, young
    garbage collected less often (medilens/gc_tuning.py)."""
    from medilens.gc_tuning import freeze_loaded_heap

    freeze_loaded_heap()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
