"""gunicorn's configuration: ``gunicorn -c python:medilens.gunicorn_config medilens.wsgi:application``.

The access log is on (a hospital's security team expects one), in the combined format with the request's
duration, and scrubbed: query values that are not known to be harmless (a patient search, ``?q=``) and
bearer links (download, password-reset, invitation tokens) are written as ``[redacted]``
(medilens.log_scrub). Bind address and workers stay on the command line.
"""

from gunicorn.glogging import Logger

from medilens.log_scrub import ScrubFilter

accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'

_SCRUB = ScrubFilter()


class ScrubbingLogger(Logger):
    """gunicorn's logger with the scrub filter on its access and error logs (``addFilter`` skips a filter
    already there, so a configuration reload does not stack it)."""

    def setup(self, cfg):
        super().setup(cfg)
        self.access_log.addFilter(_SCRUB)
        self.error_log.addFilter(_SCRUB)


logger_class = ScrubbingLogger
