"""The request id on log lines: the web's, in JSON; a task published for a request carries the id to the
worker, whose log lines for that task name it; the worker's lines are scrubbed like the web's."""

import io
import json
import logging
import re
import secrets
import uuid

import pytest
from celery.signals import before_task_publish

from audit import context as audit_context
from medilens.logging_request_id import HEADER, RequestIdFilter, current_request_id
from medilens.testing.wait import wait_until


@pytest.fixture
def console_lines():
    """What the settings' console handler (JSON under the production settings the tests run) writes."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RequestIdFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        handler.setStream(previous)


def test_a_requests_log_lines_carry_its_incoming_request_id_as_json(client, db, console_lines):
    response = client.get("/no/such/page/", headers={"X-Request-ID": "partner-trace-000123"})

    assert response.status_code == 404
    assert response["X-Request-ID"] == "partner-trace-000123"
    lines = [line for line in console_lines() if line["logger"] == "django.request"]
    assert lines, "Django logs a 404 on django.request"
    assert {line["request_id"] for line in lines} == {"partner-trace-000123"}
    assert {"time", "level", "message"} <= set(lines[0])


def test_a_malformed_incoming_id_is_replaced_on_the_log_lines_too(client, db, console_lines):
    response = client.get("/no/such/page/", headers={"X-Request-ID": "bad id; drop table"})

    made = response["X-Request-ID"]
    assert made != "bad id; drop table" and len(made) == 32
    request_ids = {line["request_id"] for line in console_lines() if line["logger"] == "django.request"}
    assert request_ids == {made}


def test_a_log_line_outside_any_request_says_so(console_lines):
    logging.getLogger("medilens.test").warning("no request here")

    assert [line["request_id"] for line in console_lines() if line["logger"] == "medilens.test"] == ["-"]


@pytest.mark.django_db(transaction=True)
def test_a_task_published_by_an_api_request_carries_its_request_id(tenant_a, settings):
    from accounts.tests.tenant_routes import CVD_PANEL, make_patient

    published = []

    def capture(headers=None, **kwargs):
        published.append(dict(headers or {}))

    patient = make_patient(tenant_a)
    before_task_publish.connect(capture, weak=False)
    try:
        response = tenant_a.api().post(
            "/api/v1/assessments/",
            {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": CVD_PANEL},
            format="json",
            headers={"X-Request-ID": "partner-trace-777"},
        )
    finally:
        before_task_publish.disconnect(capture)

    assert response.status_code == 201, response.content
    runs = [headers for headers in published if headers.get("task") == "assessments.tasks.run_assessment"]
    assert [headers[HEADER] for headers in runs] == ["partner-trace-777"]


def test_no_header_is_added_without_a_request_id():
    headers = {}
    from medilens.logging_request_id import add_request_id_header

    assert current_request_id() == ""
    add_request_id_header(headers=headers)
    assert headers == {}


# --- the worker ---------------------------------------------------------------------------------------


def _json_lines(path) -> list[dict]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # Celery's banner is plain text
    return lines


def test_the_workers_log_lines_for_a_task_carry_the_request_id_that_published_it(observed_worker):
    from assessments.tasks import run_assessment

    missing = str(uuid.uuid4())
    with audit_context.bind(request_id="partner-trace-4242"):
        run_assessment.apply_async(args=[missing], queue=observed_worker.queue)

    def task_lines():
        return [line for line in _json_lines(observed_worker.log_path) if missing in line.get("message", "")]

    lines = wait_until(task_lines, timeout=30, message=f"the task's lines in {observed_worker.log_path}")
    assert {line["request_id"] for line in lines} == {"partner-trace-4242"}
    assert all(line["level"] in {"INFO", "WARNING"} for line in lines)


def test_the_next_task_on_that_worker_does_not_inherit_the_last_ones_id(observed_worker):
    from assessments.tasks import run_assessment

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with audit_context.bind(request_id="partner-trace-first"):
        run_assessment.apply_async(args=[first], queue=observed_worker.queue)
    run_assessment.apply_async(args=[second], queue=observed_worker.queue)

    def second_lines():
        return [line for line in _json_lines(observed_worker.log_path) if second in line.get("message", "")]

    lines = wait_until(second_lines, timeout=30, message=f"the task's lines in {observed_worker.log_path}")
    assert {line["request_id"] for line in lines} == {"-"}


def test_a_workers_handlers_scrub_and_write_json(settings):
    from medilens.logging_worker import dress_handlers

    settings.LOG_FORMAT = "json"
    stream = io.StringIO()
    logger = logging.getLogger(f"celery.test.{secrets.token_hex(4)}")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))

    dress_handlers(logger=logger)
    with audit_context.bind(request_id="req-scrubbed-01"):
        logger.warning("fetched %s", "/patients/?q=Okafor&page=2")

    (line,) = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    assert line["message"] == "fetched /patients/?q=[redacted]&page=2"
    assert line["request_id"] == "req-scrubbed-01"


def test_gunicorns_json_access_log_is_scrubbed_and_names_the_request_id(tmp_path):
    import os
    import subprocess
    import sys

    from medilens.tests.test_log_scrub import ROOT, _free_port, _get, _wait_for

    port, access_log = _free_port(), tmp_path / "access.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "medilens.test_settings", "PYTHONPATH": str(ROOT),
           "LOG_FORMAT": "json"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:medilens.gunicorn_config", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(access_log), "medilens.wsgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz") == 200, timeout=30, what="gunicorn to answer")
        assert _get(f"http://127.0.0.1:{port}/healthz?q=Okafor+Ada") == 200
        text = _wait_for(lambda: (lambda t: t if "q=" in t else "")(access_log.read_text()), timeout=10,
                         what="the access log line")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
    (line,) = [json.loads(raw) for raw in text.splitlines() if "q=" in raw]
    assert line["logger"] == "gunicorn.access"
    assert '"GET /healthz?q=[redacted] HTTP/1.1" 200' in line["message"]
    assert "Okafor" not in text
    assert re.search(r"request_id=[0-9a-f]{32}$", line["message"])
