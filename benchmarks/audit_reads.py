"""Audited reads under load: 200 concurrent readers of one organization's patient pages, with read auditing
on and off, and the sealer's lag behind them.

    .venv/bin/python benchmarks/audit_reads.py [--readers 200] [--seconds 20] [--rounds 2] [--patients 400]

Issue 11's target: p99 with auditing on within 1.5x of the same pages with auditing off
(``AUDIT_READS_ENABLED=false``, a setting that exists only for this baseline; writes stay audited).

1. One organization on the bench database (PostgreSQL, production settings, see _bench.py): ``--patients``
   patients (each with one queued assessment, shown on its page), 20 clinicians, one session per reader
   (sessions are saved on every request: shared sessions would contend on their row, which real readers do
   not).
2. The web app: gunicorn, 2 workers x 8 threads (gthread) on 127.0.0.1, psycopg's pool of 10 per worker.
   One gunicorn per round, started with auditing on or off; rounds alternate off/on so that drift of the
   shared machine hits both alike.
3. With auditing on, the sealer runs beside it as beat would: a process that seals and checkpoints every
   5 s (``audit.jobs.seal_and_checkpoint``, the beat task's body), checkpoints on the local disk.
4. Readers: ``--readers`` threads in this process, each on its own keep-alive connection and session,
   requesting for ``--seconds``: 4 in 5 requests a patient page (``/patients/<id>/``, a random patient),
   1 in 5 the patient list (``/patients/?page=N``, 25 patients a page). The time of each request is taken
   from sending it to reading the whole response. Each round starts after a warm-up of every reader.
5. After the load: every audited read of the "on" rounds must be sealed (the queue drains), and the
   sealer's lag per event is ``sealed_at - occurred_at``; the report gives its p50/p99/max, and the queue's
   length when the load stopped.

Every figure depends on a 2-core machine shared with other engineers' test suites: the ratio is what to
read; the absolute milliseconds move with the load average printed at the start and end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT, Bench, machine, percentile, summary, table  # noqa: E402

TARGET_RATIO = 1.5
CLINICIANS = 20
SEAL_INTERVAL = 5.0
LIST_PAGE_SIZE = 25

SEALER = """
import os, signal, sys, time
import django
django.setup()
from audit import jobs
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
while not stop:
    began = time.monotonic()
    run, _ = jobs.seal_and_checkpoint(wait=False)
    print(f"sealed {run.sealed} in {time.monotonic() - began:.3f} s", flush=True)
    # beat's period: the next run starts SEAL_INTERVAL after this one started
    while not stop and time.monotonic() - began < float(os.environ["BENCH_SEAL_INTERVAL"]):
        time.sleep(0.05)
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def populate(count: int, readers: int, rng: random.Random):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.access import SESSION_KEY as ORGANIZATION_KEY
    from accounts.models import Organization
    from accounts.tenancy import scopes_disabled
    from assessments.models import Assessment, Patient

    organization = Organization.objects.create(slug="bench-clinic", name="Bench Clinic")
    clinicians = []
    for n in range(CLINICIANS):
        user = account_services.create_user(
            acting_user="system:bench", email=f"reader{n}@bench.example.org", full_name=f"Reader {n}", password=None
        )
        account_services.add_membership(
            acting_user="system:bench", organization=organization, user=user, role="clinician"
        )
        clinicians.append(user)
    now = timezone.now()
    with scopes_disabled():
        patients = Patient.objects.bulk_create(
            Patient(
                organization=organization, mrn=f"R-{index:05d}", given_name="Bench", family_name=f"Reader {index}",
                date_of_birth=date(rng.randint(1950, 1984), rng.randint(1, 12), rng.randint(1, 28)),
                sex_at_birth=rng.choice(["female", "male"]), consent_recorded_at=now,
            )
            for index in range(count)
        )
        Assessment.objects.bulk_create(
            Assessment(id=uuid.uuid4(), organization=organization, patient=patient, modality="cvd_risk",
                       status=Assessment.Status.QUEUED, inputs={}, queued_at=now)
            for patient in patients
        )
    cookies = []
    for reader in range(readers):
        user = clinicians[reader % CLINICIANS]
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "accounts.backends.EmailBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[ORGANIZATION_KEY] = organization.pk
        session.create()
        cookies.append(f"sessionid={session.session_key}")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return organization, [str(patient.pk) for patient in patients], cookies


def web_env(bench: Bench) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "_audit_reads_settings",
        "BENCH_STATIC_ROOT": str(bench.tmp / "static"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).resolve().parent)]),
    }


def collect_static(bench: Bench) -> None:
    subprocess.run(  # noqa: S603 - our own fixed command
        [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=web_env(bench),
        check=True,
    )


def start_gunicorn(bench: Bench, port: int, *, audit_reads: bool):
    env = {**web_env(bench), "AUDIT_READS_ENABLED": "true" if audit_reads else "false", "DATABASE_POOL_MAX_SIZE": "10"}
    log = (bench.tmp / "gunicorn.log").open("ab")
    command = [
        sys.executable, "-m", "gunicorn", "medilens.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "gthread", "--threads", "8", "--backlog", "2048",
        "--keep-alive", "30", "--timeout", "120", "--log-level", "warning",
    ]
    master = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{(bench.tmp / 'gunicorn.log').read_text()[-3000:]}")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            probe.request("GET", "/healthz")
            ready = probe.getresponse().status == 200
            probe.close()
            if ready:
                return master, log
        except OSError:
            pass
        time.sleep(0.2)
    master.terminate()
    raise RuntimeError("gunicorn did not answer /healthz in 60 s")


def stop_process(process, log=None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if log is not None:
        log.close()


class Reader(threading.Thread):
    def __init__(self, port, cookie, patients, pages, rng, warmup: threading.Barrier, go: threading.Event, window):
        super().__init__(daemon=True)
        self.port, self.cookie, self.patients, self.pages, self.rng = port, cookie, patients, pages, rng
        self.warmup, self.go, self.window = warmup, go, window
        self.samples: list[tuple[str, float]] = []
        self.failures = 0
        self.statuses: dict[int, int] = {}

    def request(self, connection, path: str) -> float:
        began = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": self.cookie, "Host": "127.0.0.1"})
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - began
        if response.status != 200:
            self.failures += 1
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        return elapsed

    def next_path(self) -> tuple[str, str]:
        if self.rng.random() < 0.8:
            return "patient page", f"/patients/{self.rng.choice(self.patients)}/"
        return "patient list", f"/patients/?page={self.rng.randint(1, self.pages)}"

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            self.request(connection, self.next_path()[1])  # warm-up: connection, session, first queries
            self.warmup.wait(timeout=300)
            self.go.wait(timeout=300)
            while time.monotonic() < self.window["stop"]:
                kind, path = self.next_path()
                try:
                    self.samples.append((kind, self.request(connection, path)))
                except (OSError, http.client.HTTPException):
                    self.failures += 1
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        finally:
            connection.close()


def run_round(port, cookies, patients, seconds, seed) -> tuple[list, int]:
    pages = max(1, -(-len(patients) // LIST_PAGE_SIZE))
    warmup, go, window = threading.Barrier(len(cookies) + 1), threading.Event(), {}
    readers = [
        Reader(port, cookie, patients, pages, random.Random(seed * 1000 + index), warmup, go, window)
        for index, cookie in enumerate(cookies)
    ]
    for reader in readers:
        reader.start()
    warmup.wait(timeout=300)
    window["stop"] = time.monotonic() + seconds
    go.set()
    for reader in readers:
        reader.join(timeout=seconds + 300)
    samples = [sample for reader in readers for sample in reader.samples]
    statuses: dict[int, int] = {}
    for reader in readers:
        for status, count in reader.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    if statuses:
        print(f"[warning] responses other than 200: {statuses}", flush=True)
    return samples, sum(reader.failures for reader in readers)


def sealer_lag(organization) -> dict:
    from django.db.models import F

    from audit.models import AuditSeal, PendingSeal

    lags = [
        (sealed - occurred).total_seconds()
        for sealed, occurred in AuditSeal.objects.filter(organization=organization, event__action__in=[
            "patient.viewed", "patient.listed"]).annotate(occurred=F("event__occurred_at"))
        .values_list("sealed_at", "occurred")
    ]
    return {"events": len(lags), "pending": PendingSeal.objects.count(), **(summary(lags) if lags else {})}


def drain_queue(deadline_seconds: float) -> float:
    from audit.models import PendingSeal

    began = time.monotonic()
    while PendingSeal.objects.exists():
        if time.monotonic() - began > deadline_seconds:
            raise RuntimeError("the sealer did not drain its queue")
        time.sleep(0.2)
    return time.monotonic() - began


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="load per round (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each setting, alternating (default 2)")
    parser.add_argument("--patients", type=int, default=400)
    args = parser.parse_args(argv)
    print(f"[start] {machine()}", flush=True)
    env = {"AUDIT_HMAC_KEY": secrets.token_urlsafe(48), "BENCH_SEAL_INTERVAL": str(SEAL_INTERVAL)}
    with Bench("audit_reads", extra_env=env) as bench:
        organization, patients, cookies = populate(args.patients, args.readers, random.Random(11))
        collect_static(bench)
        print(f"[setup] {len(patients)} patients, {args.readers} reader sessions, static files collected", flush=True)
        results = {False: [], True: []}
        backlog_at_stop, drain_seconds = [], []
        for round_index in range(args.rounds * 2):
            audit_reads = bool(round_index % 2)
            port = free_port()
            master, log = start_gunicorn(bench, port, audit_reads=audit_reads)
            sealer = None
            if audit_reads:
                sealer_log = (bench.tmp / "sealer.log").open("ab")
                sealer = subprocess.Popen(  # noqa: S603 - our own fixed command
                    [sys.executable, "-c", SEALER], cwd=ROOT, env=dict(os.environ), stdout=sealer_log,
                    stderr=subprocess.STDOUT,
                )
            try:
                samples, failures = run_round(port, cookies, patients, args.seconds, round_index)
                if audit_reads:
                    from audit.models import PendingSeal

                    backlog_at_stop.append(PendingSeal.objects.count())
                    drain_seconds.append(drain_queue(SEAL_INTERVAL * 6))
            finally:
                stop_process(master, log)
                if sealer is not None:
                    stop_process(sealer, sealer_log)
            results[audit_reads].append(samples)
            all_times = [elapsed for _, elapsed in samples]
            print(
                f"[round {round_index + 1}] auditing {'on ' if audit_reads else 'off'}: {len(samples)} requests "
                f"({len(samples) / args.seconds:.0f}/s), {failures} failures, "
                f"p50 {percentile(all_times, 50) * 1000:.0f} ms, p99 {percentile(all_times, 99) * 1000:.0f} ms",
                flush=True,
            )

        rows = []
        for kind in ("patient page", "patient list", "all"):
            figures = {}
            for audit_reads in (False, True):
                times = [elapsed * 1000 for samples in results[audit_reads] for k, elapsed in samples
                         if kind == "all" or k == kind]
                figures[audit_reads] = summary(times)
            off, on = figures[False], figures[True]
            rows.append([kind, off["n"], off["p50"], off["p99"], on["n"], on["p50"], on["p99"],
                         on["p50"] / off["p50"], on["p99"] / off["p99"]])
        print()
        headers = ["pages", "n off", "p50 off ms", "p99 off ms", "n on", "p50 on ms", "p99 on ms", "p50 ratio",
                   "p99 ratio"]
        title = (f"{args.readers} concurrent readers, {args.rounds} x {args.seconds:.0f} s per setting, "
                 "gunicorn 2 workers x 8 threads")
        print(table(headers, rows, title=title))
        lag = sealer_lag(organization)
        print()
        print(table(["audited reads sealed", "lag p50 s", "lag p99 s", "lag max s", "queue when load stopped",
                     "drained in s", "left pending"],
                    [[lag["events"], lag.get("p50", 0.0), lag.get("p99", 0.0), lag.get("max", 0.0),
                      "/".join(str(n) for n in backlog_at_stop), "/".join(f"{s:.1f}" for s in drain_seconds),
                      lag["pending"]]],
                    title=f"Sealer lag (sealed_at - occurred_at), sealing every {SEAL_INTERVAL:.0f} s as beat does"))
        verdict = rows[-1][-1]
        met = "met" if verdict <= TARGET_RATIO else "NOT met"
        print(f"\np99 ratio (all pages) {verdict:.2f}x: target <= {TARGET_RATIO}x: {met}")
    print(f"[end] {machine()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
