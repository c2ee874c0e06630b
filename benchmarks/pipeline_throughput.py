"""Pipeline throughput: N cardiovascular-risk assessments through ONE real Celery worker (solo pool),
compared with calling the analyzer directly.

    .venv/bin/python benchmarks/pipeline_throughput.py [--count 1000] [--pool-round-count 300]
        [--profile-count 50] [--profile]

1. One organization, patients and ``count`` cvd_risk assessments created through the services (inside
   the organization's scope) while no worker runs: their messages queue up in Redis.
2. One worker process (medilens.testing.worker.CeleryWorkerProcess, solo pool, env from worker_env on
   the bench database, no storage options, DJANGO_SETTINGS_MODULE=medilens.settings) drains the queue.
   Worker time per assessment = (last completed_at - first started_at) / count, read from the DB.
   worker_env turns psycopg's pool off (DATABASE_POOL=false); a second, shorter round with the pool on
   (the production default) shows what a new database connection per task costs (--pool-round-count 0
   skips it).
   The worker runs with the production default ASSESSMENT_BATCH_SIZE (32, or what the environment sets):
   a message for a queued cvd_risk assessment also claims up to 31 other queued ones of the organization
   and writes them in its transaction; their own messages then find them finished. From the worker's log:
   how many messages ran a batch and how many were answered "skipped", and the median time of each.
3. The analyzer alone: CvdRiskAnalyzer().analyze() on the same resolved inputs, with a no-op stage(),
   ``count`` times -> analyzer time per call.
4. Overhead = worker time - analyzer time (target < 10 ms per assessment, judged on the production default:
   the pool round when it runs) and the ratio.
5. Where the time goes: ``assessments.pipeline.run`` in this process on ``profile-count`` fresh
   assessments, one message each as the worker gets them (batched), and one at a time (batch_size 1:
   the path of a lone submission): queries per assessment by kind, time per run for the latter; when the
   target is missed (or with --profile), cProfile of ``profile-count`` more runs, batched.

Loopback only (PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379); its own database and Redis prefix,
both removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _pipeline_breakdown  # noqa: E402
from _bench import Bench, machine, summary, table  # noqa: E402

TARGET_OVERHEAD_MS = 10.0
ASSESSMENTS_PER_PATIENT = 10


def panel(rng: random.Random) -> dict:
    """A varied risk-factor panel inside every equation's validated range (PCE 40-79, PREVENT 30-79)."""
    inputs = {
        "age": rng.randint(40, 75),
        "sex": rng.choice(["female", "male"]),
        "race": rng.choice(["white", "african_american", "other", ""]),
        "total_cholesterol": rng.randint(150, 290),
        "hdl_cholesterol": rng.randint(30, 90),
        "cholesterol_unit": "mg/dL",
        "systolic_bp": rng.randint(100, 175),
        "bp_treated": rng.random() < 0.3,
        "diabetic": rng.random() < 0.15,
        "smoker": rng.random() < 0.2,
        "statin": rng.random() < 0.2,
        "bmi": round(rng.uniform(19, 38), 1),
    }
    if rng.random() < 0.5:
        inputs["egfr"] = rng.randint(60, 115)
    else:
        inputs["creatinine"] = round(rng.uniform(0.6, 1.3), 2)
        inputs["creatinine_unit"] = "mg/dL"
    return inputs


def create_assessments(organization, count: int, rng: random.Random, tag: str) -> tuple[list, float]:
    """Patients and ``count`` queued cvd_risk assessments through the services; returns (ids, seconds)."""
    from accounts.tenancy import organization_scope
    from assessments import services

    ids = []
    began = time.perf_counter()
    with organization_scope(organization):
        patients = []
        for index in range(max(1, -(-count // ASSESSMENTS_PER_PATIENT))):
            patients.append(
                services.create_patient(
                    actor="system:bench",
                    organization=organization,
                    consent=True,
                    mrn=f"{tag}-{index:05d}",
                    given_name="Bench",
                    family_name=f"Patient {tag} {index}",
                    date_of_birth=date(rng.randint(1950, 1984), rng.randint(1, 12), rng.randint(1, 28)),
                    sex_at_birth=rng.choice(["female", "male"]),
                )
            )
        for index in range(count):
            assessment = services.create_assessment(
                actor="system:bench",
                organization=organization,
                patient=patients[index % len(patients)],
                modality="cvd_risk",
                inputs=panel(rng),
            )
            ids.append(assessment.pk)
    return ids, time.perf_counter() - began


def queue_length(bench: Bench, queue: str = "default") -> int:
    import redis

    client = redis.Redis.from_url(bench.env["REDIS_URL"])
    try:
        return client.llen(f"{bench.prefix}:{queue}")
    finally:
        client.close()


def run_worker_round(bench: Bench, organization, count: int, rng, *, pool: bool, label: str) -> dict:
    from django.db.models import Max, Min

    from accounts.tenancy import scopes_disabled
    from assessments.models import Assessment
    from medilens.testing.worker import CeleryWorkerProcess, worker_env

    ids, create_seconds = create_assessments(organization, count, rng, tag=label)
    queued = queue_length(bench)
    print(
        f"[{label}] created {count} assessments through the services in {create_seconds:.1f} s "
        f"({create_seconds / count * 1000:.1f} ms each); {queued} messages waiting in Redis",
        flush=True,
    )
    extra = {"DJANGO_SETTINGS_MODULE": "medilens.settings"}
    if pool:
        extra["DATABASE_POOL"] = "true"
    worker = CeleryWorkerProcess(
        worker_env(database_name=bench.db_name, storage_options=None, extra=extra),
        bench.tmp / f"worker-{label}.log",
        name=f"bench-{label}",
    )
    began = time.monotonic()
    worker.start(timeout=300)  # a busy machine (load 20+) needs minutes to start a worker
    print(
        f"[{label}] worker ready in {time.monotonic() - began:.1f} s (pid {worker.process.pid}); draining", flush=True
    )
    deadline = time.monotonic() + max(120.0, count * 0.5)
    finished = 0
    try:
        while time.monotonic() < deadline:
            with scopes_disabled():
                finished = Assessment.objects.filter(pk__in=ids, status__in=Assessment.FINISHED).count()
            if finished == count:
                break
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
            time.sleep(0.5)
    finally:
        worker.stop()
    if finished != count:
        raise RuntimeError(f"only {finished} of {count} assessments finished in time:\n{worker.log_tail()}")
    with scopes_disabled():
        rows = Assessment.objects.filter(pk__in=ids)
        statuses = Counter(rows.values_list("status", flat=True))
        span = rows.aggregate(first=Min("started_at"), last=Max("completed_at"))
    if statuses.get("completed", 0) != count:
        raise RuntimeError(f"not all completed: {dict(statuses)}\n{worker.log_tail()}")
    total = (span["last"] - span["first"]).total_seconds()
    return {
        "label": label,
        "count": count,
        "ids": ids,
        "total_s": total,
        "per_ms": total / count * 1000,
        "messages": task_times((bench.tmp / f"worker-{label}.log").read_text(errors="replace")),
        "create_ms": create_seconds / count * 1000,
    }


_SUCCEEDED = re.compile(r"assessments\.tasks\.run_assessment\[[^\]]+\] succeeded in ([0-9.e-]+)s: '(\w+)'")


def task_times(log: str) -> dict:
    """run_assessment's durations by outcome, from Celery's "succeeded in" log lines: "completed" (a message
    that ran its assessment and the batch it claimed) and "skipped" (one whose assessment a batch ran)."""
    times: dict[str, list[float]] = {}
    for match in _SUCCEEDED.finditer(log):
        times.setdefault(match.group(2), []).append(float(match.group(1)) * 1000)
    return {outcome: summary(values) for outcome, values in times.items()}


def time_analyzer(ids: list) -> dict:
    """CvdRiskAnalyzer().analyze() on the same resolved inputs, stage() a no-op context manager."""
    from accounts.tenancy import scopes_disabled
    from assessments import services
    from assessments.models import Assessment
    from modalities.base import AnalysisContext
    from modalities.cvd_risk.analyzer import CvdRiskAnalyzer

    with scopes_disabled():
        rows = list(Assessment.objects.filter(pk__in=ids).select_related("patient"))
    contexts = [
        AnalysisContext(
            inputs=row.inputs,
            files=[],
            patient=services.patient_facts(row.patient),
            stage=lambda name: contextlib.nullcontext(),
        )
        for row in rows
    ]
    analyzer = CvdRiskAnalyzer()
    for context in contexts[:50]:  # warm-up
        analyzer.analyze(context)
    per_call = []
    began = time.perf_counter()
    for context in contexts:
        started = time.perf_counter()
        analyzer.analyze(context)
        per_call.append((time.perf_counter() - started) * 1000)
    total = time.perf_counter() - began
    return {"per_ms": total / len(contexts) * 1000, "calls": summary(per_call)}


def in_process_runs(organization, count: int, rng, *, mode: str, batched: bool = False) -> dict:
    """``count`` fresh assessments run by assessments.pipeline.run in this process (see _pipeline_breakdown),
    ``batched`` with ASSESSMENT_BATCH_SIZE as the worker runs them, else one at a time."""
    from django.conf import settings

    ids, _ = create_assessments(organization, count, rng, tag=f"inproc-{mode}-{batched}")
    batch_size = settings.ASSESSMENT_BATCH_SIZE if batched else 1
    return _pipeline_breakdown.in_process_runs(organization, ids, mode=mode, batch_size=batch_size)


def database_floor(samples: int = 200) -> dict:
    """What one statement costs on this machine: a SELECT 1 round trip, and an autocommitted one-row
    UPDATE (each commit waits for the WAL flush), through Django's connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_probe (id int primary key, v int)")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_probe_logged (id int primary key, v int)")
        cursor.execute("INSERT INTO bench_probe_logged VALUES (1, 0) ON CONFLICT DO NOTHING")
        figures = {}
        for label, sql in (
            ("SELECT 1 round trip", "SELECT 1"),
            ("autocommitted one-row UPDATE (WAL flush)", "UPDATE bench_probe_logged SET v = v + 1 WHERE id = 1"),
        ):
            values = []
            for _ in range(samples):
                started = time.perf_counter()
                cursor.execute(sql)
                values.append((time.perf_counter() - started) * 1000)
            figures[label] = summary(values)
        cursor.execute("DROP TABLE bench_probe_logged")
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="assessments per worker round (default 1000)")
    parser.add_argument("--profile-count", type=int, default=50, help="in-process runs to analyse (default 50)")
    parser.add_argument("--profile", action="store_true", help="print the cProfile even when the target is met")
    parser.add_argument(
        "--pool-round-count",
        type=int,
        default=300,
        help="assessments in the second round, worker with DATABASE_POOL=true (default 300; 0 skips it)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 20000 or not 1 <= args.profile_count <= 1000 or not 0 <= args.pool_round_count <= 20000:
        parser.error("--count must be 1-20000, --profile-count 1-1000, --pool-round-count 0-20000")

    print(f"pipeline_throughput: {args.count} cvd_risk assessments, one solo worker; {machine()}", flush=True)
    with Bench("pipeline_throughput") as bench:
        from accounts.models import Organization

        organization = Organization.objects.create(name="Bench Clinic", slug="bench-clinic")
        rng = random.Random(20240601)

        rounds = [run_worker_round(bench, organization, args.count, rng, pool=False, label="worker_env")]
        if args.pool_round_count:
            rounds.append(run_worker_round(bench, organization, args.pool_round_count, rng, pool=True, label="pool_on"))
        analyzer = time_analyzer(rounds[0]["ids"])
        batched = in_process_runs(organization, args.profile_count, rng, mode="plain", batched=True)
        plain = in_process_runs(organization, args.profile_count, rng, mode="plain")
        breakdown = in_process_runs(organization, args.profile_count, rng, mode="breakdown")
        floor = database_floor()
        report(args, rounds, analyzer, batched, plain, breakdown, floor)
        # The verdict is the production default's (the pool on) when that round ran.
        headline = rounds[-1]["per_ms"] - analyzer["per_ms"]
        if headline >= TARGET_OVERHEAD_MS or args.profile:
            profiled = in_process_runs(organization, args.profile_count, rng, mode="profile", batched=True)
            print()
            print(
                f"Target missed: cProfile of assessments.pipeline.run, {args.profile_count} messages in-process, "
                f"batched ({profiled['times']['mean']:.2f} ms per message under the profiler):"
            )
            print(profiled["profile"])
        print(f"[done] {machine()}")
    return 0


def report(args, rounds, analyzer, batched, plain, breakdown, floor) -> None:
    from django.conf import settings

    n = breakdown["n"]
    analyzer_ms = analyzer["per_ms"]
    print()
    rows = []
    for result in rounds:
        overhead = result["per_ms"] - analyzer_ms
        rows.append(
            [
                "worker, DATABASE_POOL=false (worker_env)"
                if result["label"] == "worker_env"
                else "worker, DATABASE_POOL=true (prod default)",
                result["per_ms"],
                analyzer_ms,
                overhead,
                f"{result['per_ms'] / analyzer_ms:.0f}x",
                "met" if overhead < TARGET_OVERHEAD_MS else "MISSED",
            ]
        )
    in_process = plain["times"]["mean"]
    size = settings.ASSESSMENT_BATCH_SIZE
    for label, figures in ((f"batches of {size}", batched), ("one at a time", plain)):
        mean = figures["times"]["mean"]
        rows.append(
            [f"pipeline.run in-process, {label}, no Celery ({n})", mean, analyzer_ms, mean - analyzer_ms,
             f"{mean / analyzer_ms:.0f}x", ""]
        )
    print(
        table(
            ["path", "per assessment", "analyzer alone", "overhead", "ratio", "target <10 ms"],
            rows,
            title=f"Figures, ms per assessment ({', '.join(str(r['count']) for r in rounds)} assessments per worker "
            f"round; ASSESSMENT_BATCH_SIZE={size})",
        )
    )
    print()
    detail = []
    for result in rounds:
        ran, skipped = result["messages"].get("completed"), result["messages"].get("skipped")
        detail.append(
            [
                result["label"],
                result["total_s"],
                ran["n"] if ran else 0,
                ran["p50"] if ran else 0.0,
                skipped["n"] if skipped else 0,
                skipped["p50"] if skipped else 0.0,
                result["create_ms"],
            ]
        )
    print(
        table(
            ["round", "drain s", "messages that ran", "p50 ms", "messages skipped", "p50 ms", "create (services)"],
            detail,
            title="Worker's messages (Celery's own timings from its log): one that ran its assessment also ran the "
            "batch it claimed; one skipped found its assessment finished by such a batch",
        )
    )
    print()
    calls = analyzer["calls"]
    print(
        f"Analyzer alone: {analyzer_ms:.3f} ms per call (p50 {calls['p50']:.3f}, p99 {calls['p99']:.3f}) "
        f"over {calls['n']} calls"
    )
    print()
    phases = {label: seconds / n * 1000 for label, seconds in breakdown["phases"].items()}
    analyze = phases.get("analyze", 0.0)
    stage = phases.get("stage", 0.0)
    instrumented = breakdown["times"]["mean"]
    other = instrumented - phases.get("claim", 0.0) - analyze - phases.get("save_results", 0.0)
    phase_rows = [
        [
            "claim: lock, stages (read unless in one transaction), transition to running (audit event queued)",
            phases.get("claim", 0.0),
        ],
        ["analyze(), of which:", analyze],
        ["  stage recorder (in memory; writes only past 0.25 s)", stage],
        ["  the analyzer's own work", analyze - stage],
        [
            "results: biomarkers, explanation, stages, save (+ audit); the lock too if separate",
            phases.get("save_results", 0.0),
        ],
        ["the rest of run(): patient, input-file query, context", other],
        ["audit.record, 2 events (inside the phases above; written in one INSERT)", phases.get("audit", 0.0)],
    ]
    print(
        table(
            ["phase of pipeline.run", "ms per assessment"],
            phase_rows,
            title=f"Where pipeline.run spends its time, one at a time (a lone submission's path): {n} more "
            f"in-process runs with query logging and timers on ({instrumented:.1f} ms per run, mean, vs "
            f"{in_process:.1f} ms without)",
        )
    )
    print()
    kinds = breakdown["kinds"]
    kind_seconds = breakdown["kind_seconds"]
    print(
        table(
            ["statement", "count per assessment", "ms per assessment"],
            [[kind, total / n, kind_seconds[kind] / n * 1000] for kind, total in kinds.most_common()]
            + [
                [
                    "total (SAVEPOINT/BEGIN are timed inside the statement that sends them)",
                    breakdown["queries"],
                    sum(kind_seconds.values()) / n * 1000,
                ]
            ],
            title=f"SQL per assessment in pipeline.run ({breakdown['queries']:.0f} statements, BEGIN and COMMIT "
            "included; each transaction also sends Row-Level Security's set_config, not captured here; the task's "
            "message carries the organization, so it looks nothing up first)",
        )
    )
    print()
    print(
        table(
            ["database floor", "p50 ms", "mean ms", "p99 ms"],
            [[label, f["p50"], f["mean"], f["p99"]] for label, f in floor.items()],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
