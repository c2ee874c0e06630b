"""CPU per request of each endpoint of the load test's mix, in the web process and in PostgreSQL (issue 16).

    .venv/bin/python benchmarks/cpu_per_request.py [--requests 100] [--warmup 5]

Why: on 2 cores the load test (load_test.py) saturates when its users offer more requests per second than the
cores can serve, so the figure that decides its 500-user result is the CPU a request costs, and where. This
script serves load_test.py's seed (5 clinics, 200 patients and 40 completed cvd_risk assessments each) from one
gunicorn worker with the production settings and configuration, sends each endpoint's requests one after another
from this process (a signed-in clinician's cookie, a partner's API key), and reads the CPU time the gunicorn
processes and every PostgreSQL process used meanwhile (psutil). Sequential: no contention, so these are the
floor of what a request costs; under load, threads contending for the GIL add to the web figure.

Printed: per endpoint, web CPU and PostgreSQL CPU per request (for "sign in" and "sign out", less the requests
around them: the form, the list, the sign-in after), and wall p50 (of the whole step); then the same weighted by the
load test's mix (benchmarks/locustfile.py: its task weights and the share of clinicians and partners) and the
requests per second two cores could serve at that cost if nothing else ran.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT, Bench, machine, table  # noqa: E402
from load_test import free_port, seed, start, stop, tree_cpu, wait_http  # noqa: E402

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# Requests per action of each simulated user (locustfile.py): a clinician's 15 task weights, a partner's 8.
# A clinician's "sign out and in" is four requests: the list, the sign-out, the sign-in form and the sign-in.
CLINICIAN_MIX = {"patient list": 5, "patient search": 2, "patient page": 4, "assessment page": 3, "dashboard": 1,
                 "sign out": 1, "sign-in form": 1, "sign in": 1}  # fmt: skip
CLINICIAN_ACTIONS = 15
# A partner's "create or poll" (weight 2) is counted as retrieves: most of its requests are polls.
PARTNER_MIX = {"api: list assessments": 3, "api: retrieve assessment": 5}
PARTNER_ACTIONS = 8
CLINICIANS, PARTNERS = 3, 2  # locustfile's user weights


def postgres_cpu() -> float:
    total = 0.0
    for process in psutil.process_iter(["name"]):
        try:
            if (process.info["name"] or "").startswith("postgres"):
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


class Client:
    """urllib with a cookie jar and no redirects followed: each call is one request."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str, headers: dict | None = None):
        self.base = base
        self.headers = headers or {}
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), self._NoRedirect
        )

    def call(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx
            return error.code, error.read().decode(errors="replace")


def sign_in(client: Client, login: dict) -> int:
    _, form = client.call("/accounts/login/")
    token = CSRF_INPUT.search(form).group(1)
    status, _ = client.call("/accounts/login/", {"csrfmiddlewaretoken": token, "username": login["email"],
                                                 "password": login["password"]})  # fmt: skip
    return status


def endpoints(base: str, fixture: dict) -> dict:
    organization, login = fixture["organizations"][0], fixture["logins"][0]
    clinician = Client(base)
    assert sign_in(clinician, login) == 302, "the clinician's sign-in was refused"
    partner = Client(base, {"Authorization": f"Bearer {organization['api_key']}"})
    rng = random.Random(7)
    credentials = {"username": login["email"], "password": login["password"]}
    patients, assessments = organization["patients"], organization["assessments"]

    def sign_out() -> tuple[int, str]:
        _, page = clinician.call("/patients/?page=1")
        answer = clinician.call("/accounts/logout/", {"csrfmiddlewaretoken": CSRF_INPUT.search(page).group(1)})
        sign_in(clinician, login)
        return answer

    def sign_in_again() -> tuple[int, str]:
        visitor = Client(base)
        _, form = visitor.call("/accounts/login/")
        token = CSRF_INPUT.search(form).group(1)
        return visitor.call("/accounts/login/", {"csrfmiddlewaretoken": token, **credentials})

    return {
        "patient list": (200, lambda: clinician.call(f"/patients/?page={rng.randint(1, 4)}")),
        "patient search": (200, lambda: clinician.call(f"/patients/?q={rng.choice(organization['search_terms'])}")),
        "patient page": (200, lambda: clinician.call(f"/patients/{rng.choice(patients)}/")),
        "assessment page": (200, lambda: clinician.call(f"/assessments/{rng.choice(assessments)}/")),
        "dashboard": (200, lambda: clinician.call("/")),
        "sign-in form": (200, lambda: Client(base).call("/accounts/login/")),
        # Each of these two also makes the requests around it (a page, a form): they are subtracted below.
        "sign out": (302, sign_out),
        "sign in": (302, sign_in_again),
        "api: list assessments": (200, lambda: partner.call("/api/v1/assessments/")),
        "api: retrieve assessment": (200, lambda: partner.call(f"/api/v1/assessments/{rng.choice(assessments)}/")),
    }  # fmt: skip


def measure(calls: dict, processes: list, requests: int, warmup: int) -> dict:
    figures = {}
    for name, (expected, call) in calls.items():
        for _ in range(warmup):
            call()
        web, database, walls = tree_cpu(processes), postgres_cpu(), []
        for _ in range(requests):
            began = time.perf_counter()
            status, _ = call()
            walls.append((time.perf_counter() - began) * 1000)
            if status != expected:
                raise RuntimeError(f"{name}: status {status}, expected {expected}")
        figures[name] = {
            "web": (tree_cpu(processes) - web) / requests * 1000,
            "postgres": (postgres_cpu() - database) / requests * 1000,
            "wall_p50": statistics.median(walls),
        }
    # "sign out" also loads the list and signs in again (form + POST); "sign in" also loads the form.
    for part in ("web", "postgres"):
        figures["sign in"][part] -= figures["sign-in form"][part]
        around = figures["patient list"][part] + figures["sign-in form"][part] + figures["sign in"][part]
        figures["sign out"][part] -= around
    return figures


def weighted(figures: dict) -> dict:
    cost, count = {"web": 0.0, "postgres": 0.0}, 0.0
    kinds = ((CLINICIAN_MIX, CLINICIAN_ACTIONS, CLINICIANS), (PARTNER_MIX, PARTNER_ACTIONS, PARTNERS))
    for mix, actions, users in kinds:
        count += users * sum(mix.values()) / actions
        for name, weight in mix.items():
            for part in cost:
                cost[part] += users * weight / actions * figures[name][part]
    return {part: value / count for part, value in cost.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    if not (10 <= args.requests <= 10_000 and 0 <= args.warmup <= 1000):
        parser.error("--requests must be 10-10,000 and --warmup 0-1,000")
    print(f"[start] {machine()}", flush=True)
    extra = {"API_THROTTLE_RATE": "1000000/min", "AUDIT_HMAC_KEY": secrets.token_urlsafe(40), "LOG_LEVEL": "WARNING"}
    with Bench("cpu", extra_env=extra) as bench:
        fixture = seed(bench.tmp)["fixture"]
        from accounts.tenancy import scopes_disabled
        from assessments.models import Assessment
        from assessments.tasks import _run_in_scope

        with scopes_disabled():
            queued = list(Assessment.objects.values_list("organization_id", "pk"))
        for organization_id, pk in queued:  # analysed here: no worker runs in this benchmark
            _run_in_scope(organization_id, pk)
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "_load_test_settings",
            "BENCH_STATIC_ROOT": str(bench.tmp / "static"),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).resolve().parent)]),
        }  # fmt: skip
        subprocess.run([sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True)  # noqa: S603  # fmt: skip
        port = free_port()
        log = bench.tmp / "gunicorn.log"
        gunicorn = start([
            sys.executable, "-m", "gunicorn", "--config", "python:medilens.gunicorn_config",
            "medilens.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--worker-class", "gthread", "--threads", "2",
            "--keep-alive", "20", "--access-logfile", str(bench.tmp / "access.log"),
        ], env, log)  # fmt: skip
        try:
            wait_http(port, gunicorn, log)
            figures = measure(endpoints(f"http://127.0.0.1:{port}", fixture), [psutil.Process(gunicorn.pid)],
                              args.requests, args.warmup)  # fmt: skip
        finally:
            stop(gunicorn)
    rows = [[name, f["web"], f["postgres"], f["web"] + f["postgres"], f["wall_p50"]] for name, f in figures.items()]
    title = f"\nCPU per request, {args.requests} requests each, one after another (1 gunicorn gthread worker)"
    print(table(["endpoint", "web CPU ms", "PostgreSQL CPU ms", "both ms", "wall p50 ms"], rows, title))
    mix = weighted(figures)
    both = mix["web"] + mix["postgres"]
    print(f"\nthe load test's mix (locustfile.py's weights): web {mix['web']:.1f} ms + PostgreSQL "
          f"{mix['postgres']:.1f} ms = {both:.1f} ms of CPU per request; two cores with nothing else running: "
          f"at most {2000 / both:.0f} "
          "requests/s (500 users offer about 50)")  # fmt: skip
    print(json.dumps({"figures": figures, "mix": mix}))
    print(f"[end] {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
