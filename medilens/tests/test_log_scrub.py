"""Issue 10: access logs carried patient searches (``?q=<name or MRN>``) and bearer links (signed download
tokens). The scrub filter, Django's logging configured with it, and gunicorn's access log through
medilens/gunicorn_config.py."""

import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from medilens.log_scrub import ScrubFilter, scrub

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("Okafor", "MRN-0042", "Ada", "s3cr3tT0ken", "pw-reset-token")


def test_search_terms_and_tokens_are_redacted_and_the_rest_kept():
    line = (
        '203.0.113.9 - - [06/Dec/2026:10:00:00 +0000] "GET /patients/?q=Okafor+Ada&page=2 HTTP/1.1" 200 512 '
        '"https://portal.example/patients/?page=1&q=MRN-0042" "Mozilla/5.0" 12ms'
    )
    scrubbed = scrub(line)
    assert '"GET /patients/?q=[redacted]&page=2 HTTP/1.1" 200 512' in scrubbed
    assert '"https://portal.example/patients/?page=1&q=[redacted]"' in scrubbed
    assert scrubbed.startswith("203.0.113.9 - - [06/Dec/2026:10:00:00 +0000]") and "Mozilla/5.0" in scrubbed
    assert scrub("GET /files/signed/s3cr3tT0ken/ HTTP/1.1") == "GET /files/signed/[redacted]/ HTTP/1.1"
    assert scrub("Not Found: /files/signed/s3cr3tT0ken/") == "Not Found: /files/signed/[redacted]/"
    assert scrub("GET /accounts/password/reset/MQ/pw-reset-token/") == "GET /accounts/password/reset/[redacted]/"
    assert scrub("GET /accounts/password/reset/sent/") == "GET /accounts/password/reset/sent/"
    assert scrub("GET /invitations/accept/s3cr3tT0ken/") == "GET /invitations/accept/[redacted]/"
    # Parameters that name no one stay readable; anything else (an unknown name, a bare value) does not.
    harmless = "/api/v1/assessments/?status=completed&cursor=cD0y"
    assert scrub(harmless) == harmless
    assert scrub("/audit/?actor=Okafor&next=/patients/%3Fq%3DAda") == "/audit/?actor=[redacted]&next=[redacted]"
    assert scrub("/patients/?Okafor") == "/patients/?[redacted]"
    assert scrub("Is this a question? Yes.") == "Is this a question? Yes."


def test_the_filter_rewrites_a_record_with_arguments():
    arguments = ("GET /patients/?q=Okafor HTTP/1.1", 200, 9)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, '"%s" %s %s', arguments, None)
    assert ScrubFilter().filter(record) is True
    assert record.getMessage() == '"GET /patients/?q=[redacted] HTTP/1.1" 200 9'


@contextmanager
def _captured(logger_name: str):
    """What the handlers configured for ``logger_name`` (its own, or the root's it propagates to) write."""
    logger = logging.getLogger(logger_name)
    handlers = logger.handlers or logging.getLogger().handlers
    buffer = io.StringIO()
    previous = [handler.setStream(buffer) for handler in handlers if isinstance(handler, logging.StreamHandler)]
    assert previous, f"no stream handler for {logger_name}"
    try:
        yield buffer
    finally:
        for handler, stream in zip(
            [h for h in handlers if isinstance(h, logging.StreamHandler)], previous, strict=True
        ):
            handler.setStream(stream)


def test_djangos_request_logs_go_through_the_filter(client, db):
    # runserver's access log (WSGIRequestHandler.log_message) writes to "django.server".
    with _captured("django.server") as output:
        logging.getLogger("django.server").info('"%s" %s %s', "GET /patients/?q=Okafor+Ada HTTP/1.1", 200, 512)
    assert "/patients/?q=[redacted]" in output.getvalue()
    # Django's request log names the path of a refused request: a download link is a credential.
    with _captured("django.request") as output:
        assert client.get("/files/signed/s3cr3tT0ken/").status_code == 404
    assert "/files/signed/[redacted]/" in output.getvalue()
    for secret in SECRETS:
        assert secret not in output.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@pytest.mark.timeout(60)
def test_gunicorns_access_log_is_scrubbed(tmp_path):
    port = _free_port()
    access_log = tmp_path / "access.log"
    # Plain lines here; the JSON ones: medilens/tests/test_request_id_logs.py.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "medilens.test_settings", "PYTHONPATH": str(ROOT),
           "LOG_FORMAT": "plain"}  # fmt: skip
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--config", "python:medilens.gunicorn_config",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(access_log),
            "medilens.wsgi:application",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(lambda: _get(f"{base}/healthz") == 200, timeout=30, what="gunicorn to answer")
        assert _get(f"{base}/healthz?q=Okafor+Ada&page=3") == 200
        assert _get(f"{base}/files/signed/s3cr3tT0ken/") == 404
        text = _wait_for(
            lambda: (lambda t: t if "/files/signed/" in t else "")(access_log.read_text()),
            timeout=10, what="the access log lines",
        )
    finally:
        server.terminate()
        server.wait(10)
    assert '"GET /healthz?q=[redacted]&page=3 HTTP/1.1" 200' in text
    assert '"GET /files/signed/[redacted]/ HTTP/1.1" 404' in text
    for secret in SECRETS:
        assert secret not in text
