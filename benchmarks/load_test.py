"""Load test (issue 16, item 4): locust against gunicorn with the production settings, at 100, 250 and 500 users.

    .venv/bin/python benchmarks/load_test.py [--users 100,250,500] [--run-time 150] [--web-workers 3]
                                             [--threads 2] [--worker-class gthread] [--max-requests 60000]

The stack, all on 127.0.0.1 and all started here (see _bench.py for the database and Redis prefix):

* PostgreSQL database ``medilens_bench_load`` (migrated), Redis under its own key prefix, a SeaweedFS S3
  server (medilens.testing.s3server) with its own bucket;
* gunicorn with the production settings (``_load_test_settings``: cookies not Secure over loopback HTTP, static
  files collected to the run's temp dir), ``--web-workers`` gthread workers x ``--threads`` threads, timeout
  30 s, psycopg's pool; every statement limited to 20 s (DATABASE_STATEMENT_TIMEOUT_SECONDS);
* real Celery workers as docker-compose runs them (default+webhooks: prefork 2; inference: 1) and beat;
* the API throttle raised for the run (API_THROTTLE_RATE), so that the figures measure the service, not the
  limit; 429s are still counted apart.

Seed: 5 organizations, each with 10 clinicians, 200 patients (through the services: encrypted identifiers and
their search index), 40 completed cvd_risk assessments and one API key. Then one locust run per user count
(benchmarks/locustfile.py: the mix and pacing are there), headless, bounded by --run-time and --max-requests.

Printed per run: users, requests/s, p50/p95/p99 per endpoint, failures by status, 429s, uploads, the CPU used
by locust, gunicorn, the Celery workers and PostgreSQL (share of the machine's 2 cores), the latency every 15 s
(locust's history: a ramp's burst or a steady queue), the time gunicorn itself saw each request take (its access
log: what locust's times add to that is the wait for a worker thread), and gunicorn worker timeouts. The machine
is shared with other engineers' test suites: read the load average printed with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT, Bench, machine, percentile, table  # noqa: E402

ORGANIZATIONS, CLINICIANS, PATIENTS, ASSESSMENTS = 5, 10, 200, 40
ACTOR = "system:load-test"
PANEL = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}  # fmt: skip
FAMILY = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Haddad", "Novak", "Silva", "Kowalski", "Mensah", "Ivanova"]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(tmp: Path) -> dict:
    """Organizations, clinicians, patients, completed assessments and keys; returns the locust fixture."""
    from accounts import services as account_services
    from accounts.models import ApiClient, User
    from accounts.tenancy import organization_scope
    from assessments import services

    password = secrets.token_urlsafe(16)
    fixture = {"organizations": [], "logins": [], "partners": [], "cvd_panel": PANEL}
    password_hash = None
    for number in range(ORGANIZATIONS):
        organization = account_services.create_organization(
            acting_user=ACTOR, name=f"Load Clinic {number}", slug=f"load-{number}"
        )
        for index in range(CLINICIANS):
            email = f"clinician{index}@load-{number}.example.org"
            # One password hash made once and shared by the 50 clinicians: hashing each would add nothing measured.
            user = account_services.create_user(acting_user=ACTOR, email=email, full_name=f"Clinician {index}",
                                                password=password if password_hash is None else None)  # fmt: skip
            if password_hash is None:
                password_hash = user.password
            else:
                User.objects.filter(pk=user.pk).update(password=password_hash)
            account_services.add_membership(acting_user=ACTOR, organization=organization, user=user, role="clinician")
            fixture["logins"].append({"email": email, "password": password, "organization": number})
        _, key = account_services.create_api_client(
            acting_user=ACTOR, organization=organization, name="Load partner", access=ApiClient.Access.CLINICIAN
        )
        fixture["partners"].append({"organization": number})
        with organization_scope(organization):
            patients = [
                services.create_patient(
                    actor=ACTOR, organization=organization, consent=True, mrn=f"L{number}-{index:05d}",
                    given_name="Load", family_name=f"{FAMILY[index % len(FAMILY)]}",
                    date_of_birth=date(1950 + index % 35, 1 + index % 12, 1 + index % 28), sex_at_birth="female",
                )  # fmt: skip
                for index in range(PATIENTS)
            ]
            assessments = [
                services.create_assessment(actor=ACTOR, organization=organization, patient=patient,
                                           modality="cvd_risk", inputs=PANEL)  # fmt: skip
                for patient in patients[:ASSESSMENTS]
            ]
        fixture["organizations"].append({
            "api_key": key, "patients": [str(p.pk) for p in patients],
            "assessments": [str(a.pk) for a in assessments], "search_terms": FAMILY[:5] + ["L0-0001", "Load"],
        })  # fmt: skip
    path = tmp / "load-fixture.json"
    path.write_text(json.dumps(fixture))
    return {"path": path, "fixture": fixture}


def wait_for_completed(deadline_seconds: float = 300) -> int:
    from accounts.tenancy import scopes_disabled
    from assessments.models import Assessment

    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with scopes_disabled():
            waiting = Assessment.objects.exclude(status__in=["completed", "failed"]).count()
        if waiting == 0:
            return 0
        time.sleep(1)
    return waiting


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603


def wait_http(port: int, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    import http.client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited:\n{log.read_text()[-3000:]}")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"no answer on {port} in {seconds} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def tree_cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for root in processes:
        try:
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in members:
            try:
                times = member.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    return total


def run_locust(users: int, args, port: int, fixture: Path, tmp: Path, watched: dict) -> dict:
    prefix = tmp / f"locust-{users}"
    result_path = tmp / f"locust-{users}-counts.json"
    env = {**os.environ, "LOAD_FIXTURE": str(fixture), "LOAD_RESULT": str(result_path),
           "LOAD_MAX_REQUESTS": str(args.max_requests)}  # fmt: skip
    spawn_rate = max(5, round(users / 40))
    command = [
        sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
        "--host", f"http://127.0.0.1:{port}", "-u", str(users), "-r", str(spawn_rate),
        "--run-time", f"{args.run_time}s", "--stop-timeout", "20", "--csv", str(prefix), "--only-summary",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    before = {name: tree_cpu(processes) for name, processes in watched.items()}
    before_machine = psutil.cpu_times()
    began = time.monotonic()
    locust = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    locust_process = psutil.Process(locust.pid)
    locust_cpu = 0.0
    while locust.poll() is None:
        try:
            times = locust_process.cpu_times()
            locust_cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(1)
    wall = time.monotonic() - began
    stderr = locust.stderr.read().decode(errors="replace")
    after_machine = psutil.cpu_times()
    busy = (sum(after_machine) - after_machine.idle - after_machine.iowait) - (
        sum(before_machine) - before_machine.idle - before_machine.iowait
    )
    cores = psutil.cpu_count()
    cpu = {name: tree_cpu(processes) - before[name] for name, processes in watched.items()}
    cpu["locust"] = locust_cpu
    # PostgreSQL's backends come and go with the pool's connections, and the server serves other databases
    # of this shared machine: its share is what is busy besides the processes measured here ("the rest").
    cpu["the rest of the machine (PostgreSQL, Redis, other engineers' work)"] = busy - sum(cpu.values())
    return {
        "users": users, "wall": wall, "stats": read_stats(Path(f"{prefix}_stats.csv")),
        "history": read_stats(Path(f"{prefix}_stats_history.csv")),
        "failures": read_failures(Path(f"{prefix}_failures.csv")),
        "counts": json.loads(result_path.read_text()) if result_path.exists() else {},
        "cpu": {name: seconds / (wall * cores) for name, seconds in cpu.items()},
        "machine_busy": busy / (wall * cores), "locust_stderr": stderr[-2000:],
    }  # fmt: skip


def read_stats(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as source:
        return list(csv.DictReader(source))


def read_failures(path: Path) -> list[dict]:
    return read_stats(path)


def over_time(history: list[dict], every: int = 15) -> list[list]:
    """Locust's per-second history (its percentiles cover the last seconds, not the whole run), every ``every``
    seconds: how the latency moved as the users arrived and after (a ramp's backlog or a steady queue)."""
    rows = [row for row in history if row.get("Name") == "Aggregated"]
    if not rows:
        return []
    start = int(rows[0]["Timestamp"])
    picked, due = [], 0
    for row in rows:
        second = int(row["Timestamp"]) - start
        if second >= due:
            picked.append([second, int(row["User Count"]), round(float(row["Requests/s"]), 1), row["50%"],
                           row["95%"]])  # fmt: skip
            due = second + every
    return picked


def report(run: dict) -> None:
    rows = []
    for row in run["stats"]:
        rows.append([
            row["Name"], int(row["Request Count"]), int(row["Failure Count"]), float(row["Requests/s"]),
            row["50%"], row["95%"], row["99%"], row["Max Response Time"].split(".")[0],
        ])  # fmt: skip
    print(table(["endpoint", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows,
                title=f"\n=== {run['users']} users, {run['wall']:.0f} s ==="), flush=True)  # fmt: skip
    for failure in run["failures"]:
        print(f"  failure: {failure.get('Method')} {failure.get('Name')}: {failure.get('Error')} "
              f"x{failure.get('Occurrences')}")  # fmt: skip
    print(f"  503s with Retry-After (waited past REQUEST_QUEUE_TIMEOUT_SECONDS, counted apart): "
          f"{run['counts'].get('shed', 0)}; pages sent back to sign-in after a refused sign-in: "
          f"{run['counts'].get('sent_to_sign_in', 0)}")
    print(f"  429s counted apart: {run['counts'].get('throttled', 0)} (without Retry-After: "
          f"{run['counts'].get('throttled_without_retry_after', 0)}); uploads: {run['counts'].get('uploads', 0)}; "
          f"cvd_risk created: {run['counts'].get('created', 0)}")  # fmt: skip
    shares = ", ".join(f"{name} {share:.0%}" for name, share in run["cpu"].items())
    print(f"  CPU, share of the machine's {psutil.cpu_count()} cores: {shares}; whole machine busy "
          f"{run['machine_busy']:.0%}", flush=True)  # fmt: skip
    if timeline := over_time(run.get("history", [])):
        print(table(["second", "users", "req/s", "p50 ms", "p95 ms"], timeline,
                    title="  over time (locust's current percentiles: its last seconds)"))  # fmt: skip
    if run["locust_stderr"].strip():
        print("  locust said: " + run["locust_stderr"].strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="100,250,500")
    parser.add_argument("--run-time", type=int, default=150)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=60000)
    args = parser.parse_args(argv)
    try:
        user_counts = [int(count) for count in args.users.split(",")]
    except ValueError:
        user_counts = []
    if not user_counts or not all(1 <= count <= 2000 for count in user_counts):
        parser.error("--users must be comma-separated user counts from 1 to 2000, e.g. 100,250,500")
    if not (10 <= args.run_time <= 3600 and 1 <= args.web_workers <= 16 and 1 <= args.threads <= 32
            and 1 <= args.max_requests <= 10_000_000):  # fmt: skip
        parser.error("--run-time must be 10-3600 s, --web-workers 1-16, --threads 1-32, --max-requests 1-10,000,000")

    from medilens.testing.s3server import SeaweedS3Server

    print(f"[start] {machine()}", flush=True)
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"medilens-load-{secrets.token_hex(3)}"  # noqa: S108
    s3 = SeaweedS3Server(scratch / "s3", access_key=secrets.token_hex(10), secret_key=secrets.token_hex(20))
    s3.start()
    s3.create_bucket("medilens-load")
    extra = {
        **s3.settings_env("medilens-load"),
        "API_THROTTLE_RATE": "1000000/min", "DATABASE_STATEMENT_TIMEOUT_SECONDS": "20",
        "REQUEST_QUEUE_TIMEOUT_SECONDS": "25",
        "LOG_LEVEL": "WARNING", "AUDIT_HMAC_KEY": secrets.token_urlsafe(40),
    }  # fmt: skip
    started: list[subprocess.Popen] = []
    try:
        with Bench("load", extra_env=extra) as bench:
            tmp = bench.tmp
            env = {**os.environ, "BENCH_STATIC_ROOT": str(tmp / "static"),
                   "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).resolve().parent)])}  # fmt: skip
            celery = [sys.executable, "-m", "celery", "-A", "medilens"]
            workers = [
                start([*celery, "worker", "-Q", "default,webhooks", "--concurrency", "2", "-n", "default@%h",
                       "--loglevel", "WARNING", "--without-gossip", "--without-mingle"], env, tmp / "worker.log"),
                start([*celery, "worker", "-Q", "inference", "--concurrency", "1", "-n", "inference@%h",
                       "--loglevel", "WARNING", "--without-gossip", "--without-mingle"], env, tmp / "inference.log"),
                start([*celery, "beat", "--loglevel", "WARNING", "-s", str(tmp / "beat-schedule")], env,
                      tmp / "beat.log"),
            ]  # fmt: skip
            started += workers
            began = time.monotonic()
            fixture = seed(tmp)
            left = wait_for_completed()
            print(f"[seed] {ORGANIZATIONS} organizations, {ORGANIZATIONS * CLINICIANS} clinicians, "
                  f"{ORGANIZATIONS * PATIENTS} patients, {ORGANIZATIONS * ASSESSMENTS} assessments "
                  f"({left} not completed) in {time.monotonic() - began:.0f} s", flush=True)  # fmt: skip
            web_env = {**env, "DJANGO_SETTINGS_MODULE": "_load_test_settings"}
            subprocess.run([sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT,
                           env=web_env, check=True)  # noqa: S603  # fmt: skip
            port = free_port()
            gunicorn = start([
                sys.executable, "-m", "gunicorn", "--config", "python:medilens.gunicorn_config",
                "medilens.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers),
                "--worker-class", args.worker_class, "--threads", str(args.threads), "--timeout", "30",
                # Longer than a simulated user's pause (5-15 s): a connection the client reuses is still open
                # (with gunicorn's 2 s default the server closes it as the client sends: connection resets).
                "--keep-alive", "20",
                "--backlog", "2048", "--access-logfile", str(tmp / "access.log"),
            ], web_env, tmp / "gunicorn.log")  # fmt: skip
            started.append(gunicorn)
            wait_http(port, gunicorn, tmp / "gunicorn.log")
            print(f"[web] gunicorn {args.web_workers} {args.worker_class} workers x {args.threads} threads, "
                  "timeout 30 s, keep-alive 20 s, statement_timeout 20 s, queue timeout 25 s; "
                  "Celery: default+webhooks prefork 2, inference 1, beat",
                  flush=True)  # fmt: skip
            watched = {"gunicorn": [psutil.Process(gunicorn.pid)],
                       "Celery workers+beat": [psutil.Process(w.pid) for w in workers]}  # fmt: skip
            runs = []
            for users in user_counts:
                offset = (tmp / "access.log").stat().st_size
                run = run_locust(users, args, port, fixture["path"], tmp, watched)
                run["load"] = os.getloadavg()
                report(run)
                print(f"  {in_the_app(tmp / 'access.log', offset)}", flush=True)
                print(f"  load average after: {', '.join(f'{v:.2f}' for v in run['load'])}", flush=True)
                runs.append(run)
            log = (tmp / "gunicorn.log").read_text(errors="replace")
            print(f"\n[web] gunicorn worker timeouts: {log.count('WORKER TIMEOUT')}; "
                  f"5xx in the access log: {count_5xx(tmp / 'access.log')}", flush=True)  # fmt: skip
            for process in reversed(started):
                stop(process)
    finally:
        for process in reversed(started):
            stop(process)
        s3.stop()
    print(f"[end] {machine()}", flush=True)
    return 0


def _access_lines(path: Path, offset: int = 0):
    with path.open("rb") as source:
        source.seek(offset)
        for line in source.read().decode(errors="replace").splitlines():
            try:
                yield json.loads(line).get("message", "")
            except ValueError:
                yield line


ACCESS_DURATION = re.compile(r" (\d+)ms request_id=")


def in_the_app(path: Path, offset: int = 0) -> str:
    """The time gunicorn saw each request take (its access log's %(M)s: from the request read to the response
    written), against which locust's times show how long requests waited before a worker thread took them."""
    times = [float(match.group(1)) for line in _access_lines(path, offset)
             if (match := ACCESS_DURATION.search(line))]  # fmt: skip
    if not times:
        return "time in gunicorn: no access lines"
    p50, p95, p99 = (percentile(times, pct) for pct in (50, 95, 99))
    return (f"time in gunicorn (access log, {len(times)} requests): p50 {p50:.0f} ms, "
            f"p95 {p95:.0f} ms, p99 {p99:.0f} ms; the rest of locust's time is waiting "
            "for a worker thread and the network")  # fmt: skip


def count_5xx(path: Path) -> dict[str, int]:
    """5xx answers in gunicorn's access log, by status (a 503 is load shed or overload, a 500 a defect)."""
    counts: dict[str, int] = {}
    for message in _access_lines(path):
        parts = message.split('" ')
        status = parts[1][:3] if len(parts) > 1 else ""
        if status.startswith("5"):
            counts[status] = counts.get(status, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
