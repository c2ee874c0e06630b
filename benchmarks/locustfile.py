"""The load test's simulated people (issue 16, item 4), driven by benchmarks/load_test.py.

    locust -f benchmarks/locustfile.py --headless --host http://127.0.0.1:PORT -u USERS ...

Two kinds of user, each waiting 5-15 s between actions (about 50 requests/s at 500 users):

* clinicians in the portal (3 in 5): sign in (GET the form, POST the password), then the patient list, a
  patient search, patient pages, assessment pages, the dashboard; now and then sign out and in again;
* partner systems on the API (2 in 5), each on its own organization's key: list and retrieve assessments,
  create cvd_risk assessments and poll them until they complete; one request in 50 overall is an upload
  (a PDF attachment to an assessment).

The data (logins, keys, patient and assessment ids) comes from the JSON file LOAD_FIXTURE names, written by
load_test.py. 429 answers (with Retry-After) are counted apart and are not failures; any 5xx, a 429 without
Retry-After, or another unexpected status is. Bounded: only a loopback host, and the run stops after
LOAD_MAX_REQUESTS requests whatever --run-time says. At the end the 429 and upload counts are written to
LOAD_RESULT (JSON).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import secrets
import threading
import time
from urllib.parse import urlparse

from locust import HttpUser, between, events, task

FIXTURE = json.loads(open(os.environ["LOAD_FIXTURE"]).read())  # noqa: SIM115 - read once at import
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "200000"))
UPLOAD_EVERY = 50
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PDF = b"%PDF-1.4\n" + secrets.token_bytes(64 * 1024)

_lock = threading.Lock()
_counts = {
    "requests": 0, "throttled": 0, "shed": 0, "sent_to_sign_in": 0, "throttled_without_retry_after": 0,
    "uploads": 0, "created": 0,
}  # fmt: skip
_logins = itertools.cycle(FIXTURE["logins"])
_partners = itertools.cycle(FIXTURE["partners"])


@events.test_start.add_listener
def _refuse_a_remote_host(environment, **kwargs):
    host = urlparse(environment.host or "").hostname
    if host not in LOOPBACK:
        raise SystemExit(f"the load test runs against loopback only, not {host!r}")


@events.request.add_listener
def _bound(request_type, name, response_time, response_length, exception=None, **kwargs):
    with _lock:
        _counts["requests"] += 1
        over = _counts["requests"] >= MAX_REQUESTS
    if over and _environment is not None and _environment.runner is not None:
        _environment.runner.quit()


_environment = None


@events.init.add_listener
def _keep_environment(environment, **kwargs):
    global _environment
    _environment = environment


@events.quitting.add_listener
def _write_counts(environment, **kwargs):
    path = os.environ.get("LOAD_RESULT")
    if path:
        with open(path, "w") as output:
            json.dump(_counts, output)


def _upload_due() -> bool:
    """One request in UPLOAD_EVERY, across all users, is an upload."""
    with _lock:
        if _counts["requests"] // UPLOAD_EVERY > _counts["uploads"]:
            _counts["uploads"] += 1
            return True
    return False


def _judge(response, expected: tuple[int, ...]) -> None:
    """Inside catch_response: 429 and 503 with Retry-After are counted apart (the service said "later", as the
    issue allows); anything unexpected fails."""
    if response.status_code == 503 and response.headers.get("Retry-After"):
        with _lock:
            _counts["shed"] += 1
        response.success()
    elif response.status_code == 429:
        with _lock:
            _counts["throttled"] += 1
            if not response.headers.get("Retry-After"):
                _counts["throttled_without_retry_after"] += 1
                response.failure("429 without Retry-After")
                return
        response.success()
    elif response.status_code == 0:  # no HTTP answer: the connection failed, name how
        response.failure(f"no answer: {type(response.error).__name__}: {str(response.error)[:120]}")
    elif response.status_code not in expected:
        response.failure(f"status {response.status_code}")
    else:
        response.success()


def _upload(user) -> None:
    """An API upload by a partner of the user's organization: a PDF attached to one of its assessments."""
    assessment = random.choice(user.organization["assessments"])
    with user.client.post(
        f"/api/v1/assessments/{assessment}/attachments/", name="api: upload attachment (64 KB PDF)",
        files={"files": ("letter.pdf", PDF, "application/pdf")},
        headers=_stamped({"Authorization": f"Bearer {user.organization['api_key']}"}), catch_response=True,
    ) as response:  # fmt: skip
        _judge(response, (201,))


def _stamped(headers: dict | None = None) -> dict:
    """The request says when it was sent (X-Request-Start), as the proxy in front of gunicorn would: on loopback
    the client is its own proxy. The app refuses one that waited past REQUEST_QUEUE_TIMEOUT_SECONDS."""
    return {**(headers or {}), "X-Request-Start": f"t={time.time():.3f}"}


class Clinician(HttpUser):
    weight = 3
    wait_time = between(5, 15)

    def on_start(self):
        self.login = next(_logins)
        self.organization = FIXTURE["organizations"][self.login["organization"]]
        self.sign_in()

    def get(self, path: str, name: str, expected=(200,)):
        if not self.signed_in and not path.startswith("/accounts/"):
            self.sign_in()  # the last sign-in was refused (a 503 under load): sign in again first
        with self.client.get(path, name=name, catch_response=True, allow_redirects=False,
                             headers=_stamped()) as response:  # fmt: skip
            if response.status_code == 302 and "/accounts/login/" in response.headers.get("Location", ""):
                # Signed out: its sign-in was refused with a 503 (counted apart), so the portal asks again.
                self.signed_in = False
                with _lock:
                    _counts["sent_to_sign_in"] += 1
                response.success()
                return response
            _judge(response, expected)
            return response

    def sign_in(self):
        self.client.cookies.clear()
        self.signed_in = False
        form = self.get("/accounts/login/", "portal: sign-in form")
        token = CSRF_INPUT.search(form.text or "")
        if token is None:
            return
        data = {"csrfmiddlewaretoken": token.group(1), "username": self.login["email"],
                "password": self.login["password"]}  # fmt: skip
        with self.client.post("/accounts/login/", data=data, name="portal: sign in", catch_response=True,
                              headers=_stamped(),
                              allow_redirects=False) as response:  # fmt: skip
            _judge(response, (302,))
            self.signed_in = response.status_code == 302

    @task(4)
    def patient_list(self):
        if _upload_due():
            return _upload(self)
        self.get(f"/patients/?page={random.randint(1, 4)}", "portal: patient list")

    @task(2)
    def patient_search(self):
        self.get(f"/patients/?q={random.choice(self.organization['search_terms'])}", "portal: patient search")

    @task(4)
    def patient_page(self):
        self.get(f"/patients/{random.choice(self.organization['patients'])}/", "portal: patient page")

    @task(3)
    def assessment_page(self):
        self.get(f"/assessments/{random.choice(self.organization['assessments'])}/", "portal: assessment page")

    @task(1)
    def dashboard(self):
        self.get("/", "portal: dashboard")

    @task(1)
    def sign_out_and_in(self):
        form = self.get("/patients/?page=1", "portal: patient list")
        token = CSRF_INPUT.search(form.text or "")
        if token is not None:
            with self.client.post("/accounts/logout/", data={"csrfmiddlewaretoken": token.group(1)},
                                  headers=_stamped(),
                                  name="portal: sign out", catch_response=True,
                                  allow_redirects=False) as response:  # fmt: skip
                _judge(response, (302,))
        self.sign_in()


class Partner(HttpUser):
    weight = 2
    wait_time = between(5, 15)

    def on_start(self):
        self.partner = next(_partners)
        self.organization = FIXTURE["organizations"][self.partner["organization"]]
        self.headers = {"Authorization": f"Bearer {self.organization['api_key']}"}
        self.pending: list[str] = []

    def call(self, method: str, path: str, name: str, expected=(200,), **kwargs):
        with self.client.request(method, path, name=name, headers=_stamped(self.headers), catch_response=True,
                                 **kwargs) as response:  # fmt: skip
            _judge(response, expected)
            return response

    @task(3)
    def list_assessments(self):
        if _upload_due():
            return _upload(self)
        self.call("GET", "/api/v1/assessments/", "api: list assessments")

    @task(3)
    def retrieve_assessment(self):
        assessment = random.choice(self.organization["assessments"])
        self.call("GET", f"/api/v1/assessments/{assessment}/", "api: retrieve assessment")

    @task(2)
    def create_or_poll(self):
        """Poll the oldest pending creation until it completes; else create a new one."""
        if self.pending:
            response = self.call("GET", f"/api/v1/assessments/{self.pending[0]}/", "api: poll created assessment")
            if response.status_code == 200 and response.json().get("status") in {"completed", "failed"}:
                self.pending.pop(0)
            return
        patient = random.choice(self.organization["patients"])
        body = {"patient": patient, "modality": "cvd_risk", "inputs": FIXTURE["cvd_panel"]}
        response = self.call("POST", "/api/v1/assessments/", "api: create cvd_risk", expected=(201,), json=body)
        if response.status_code == 201:
            self.pending.append(response.json()["id"])
            with _lock:
                _counts["created"] += 1
