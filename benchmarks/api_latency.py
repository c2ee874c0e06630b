"""API latency: assessment list and retrieve with 10,000 assessments in the organization, against a bare
DRF view returning the same data.

    .venv/bin/python benchmarks/api_latency.py [--count 10000] [--requests 300]

Set-up (direct bulk_create under scopes_disabled, for speed): one organization, 500 patients, ``count``
completed cvd_risk assessments, each with its 3 stages, its biomarkers (8-9, from the real analyzer run
on 60 varied panels), its explanation; created_at spread over a year; then ANALYZE. One API client key
(accounts.services.create_api_client, clinician access).

Requests go through Django's test Client in this process (the whole middleware stack, no network):

* ``GET /api/v1/assessments/`` (first page, 50 items) and ``GET /api/v1/assessments/<id>/`` (a different
  assessment each time; each read is audited: ``assessment.viewed``);
* the same through a "bare" DRF APIView defined here (authentication_classes, permission_classes and
  throttle_classes empty) over ``selectors.with_details(Assessment.objects.with_scopes_disabled()
  .filter(organization=...))`` with the same Cursor paginator and AssessmentSerializer, mounted by a
  script-local ROOT_URLCONF that includes medilens.urls plus the bare endpoints;
* "bare retrieve + audit": the bare retrieve plus the same ``assessment.viewed`` audit write, to split
  the API's extra time on a retrieve between that write and authentication/permission/throttling.

Requests are interleaved (one of each endpoint per round, in a new random order each round) after a
warm-up, so drift of a shared machine, and the process's full garbage collections, hit all four alike;
requests during which a full (generation-2) GC ran are counted and the figures are also given without
them. Reports p50/p99 and the API/bare ratios (target: within 2x), and
SQL statements per request (CaptureQueriesContext).

The per-key throttle (600/min by default) would answer 429 long before 1,200 requests: it is raised
here with API_THROTTLE_RATE so that it still runs (a Redis read and write per request) but never
refuses.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bare_api import bare_urlconf  # noqa: E402
from _bench import Bench, machine, summary, table  # noqa: E402

TARGET_RATIO = 2.0
PATIENTS = 500
TEMPLATES = 60
BATCH = 1000


def panel(rng: random.Random) -> dict:
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
    return inputs


def templates(rng: random.Random) -> list[tuple[dict, object]]:
    """(resolved inputs, AnalysisResult) pairs from the real analyzer."""
    import contextlib

    from modalities.base import AnalysisContext, PatientFacts
    from modalities.cvd_risk.analyzer import CvdRiskAnalyzer

    analyzer = CvdRiskAnalyzer()
    out = []
    while len(out) < TEMPLATES:
        facts = PatientFacts(
            age=60,
            sex_at_birth="female",
            bmi=None,
            has_diabetes=False,
            treated_hypertension=False,
            current_smoker=False,
            on_statin=False,
            prior_cardiovascular_disease=False,
        )
        resolved = analyzer.validate_inputs(inputs=panel(rng), patient=facts)
        result = analyzer.analyze(
            AnalysisContext(inputs=resolved, files=[], patient=facts, stage=lambda name: contextlib.nullcontext())
        )
        out.append((resolved, result))
    return out


def populate(organization, count: int, rng: random.Random) -> list:
    from django.db import connection
    from django.utils import timezone

    from accounts.tenancy import scopes_disabled
    from assessments.models import AIExplanation, Assessment, BiomarkerValue, Patient, PipelineStage
    from assessments.services import biomarker_value
    from modalities.cvd_risk.analyzer import CvdRiskAnalyzer

    analyzer = CvdRiskAnalyzer()
    catalogue = analyzer.modality.catalogue
    pairs = templates(rng)
    now = timezone.now()
    ids = []
    began = time.perf_counter()
    with scopes_disabled():
        patients = Patient.objects.bulk_create(
            Patient(
                organization=organization,
                mrn=f"B-{index:05d}",
                given_name="Bench",
                family_name=f"Patient {index}",
                date_of_birth=date(rng.randint(1950, 1984), rng.randint(1, 12), rng.randint(1, 28)),
                sex_at_birth=rng.choice(["female", "male"]),
                consent_recorded_at=now,
            )
            for index in range(PATIENTS)
        )
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            assessments, stages, biomarkers, explanations = [], [], [], []
            for offset in range(size):
                resolved, result = pairs[(start + offset) % len(pairs)]
                queued = now - timedelta(seconds=rng.randint(60, 365 * 86400))
                started = queued + timedelta(seconds=1)
                completed = started + timedelta(milliseconds=40)
                assessment = Assessment(
                    id=uuid.uuid4(),
                    organization=organization,
                    patient=patients[(start + offset) % PATIENTS],
                    modality="cvd_risk",
                    status=Assessment.Status.COMPLETED,
                    inputs=resolved,
                    risk_score=result.risk_score,
                    risk_level=result.risk_level,
                    confidence=result.confidence,
                    recommendations=result.recommendations,
                    results=result.document(),
                    method_version=result.method_version,
                    queued_at=queued,
                    started_at=started,
                    completed_at=completed,
                    attempts=1,
                )
                assessments.append(assessment)
                for order, spec in enumerate(analyzer.modality.stages):
                    stages.append(
                        PipelineStage(
                            organization=organization,
                            assessment=assessment,
                            name=spec.name,
                            label=spec.label,
                            order=order,
                            status=PipelineStage.Status.COMPLETED,
                            started_at=started,
                            finished_at=completed,
                            duration_ms=1,
                        )
                    )
                biomarkers.extend(
                    biomarker_value(catalogue[name], value, assessment=assessment, measured_at=completed)
                    for name, value in result.biomarkers.items()
                )
                explanations.append(
                    AIExplanation(
                        organization=organization,
                        assessment=assessment,
                        summary=result.explanation_summary,
                        contributions=result.contributions_json(),
                    )
                )
            Assessment.objects.bulk_create(assessments)
            PipelineStage.objects.bulk_create(stages)
            BiomarkerValue.objects.bulk_create(biomarkers)
            AIExplanation.objects.bulk_create(explanations)
            ids.extend(a.pk for a in assessments)
        stage_count = PipelineStage.objects.count()
        biomarker_count = BiomarkerValue.objects.count()
    with connection.cursor() as cursor:
        # created_at is auto_now_add: spread it like real history (the list is ordered by it).
        cursor.execute("UPDATE assessments_assessment SET created_at = queued_at, updated_at = completed_at")
        cursor.execute("ANALYZE")
    print(
        f"[setup] {count} assessments, {stage_count} stages, {biomarker_count} biomarkers "
        f"({biomarker_count / count:.1f} per assessment), {PATIENTS} patients in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return ids


def query_kinds(captured) -> str:
    kinds = Counter()
    for query in captured.captured_queries:
        sql = query["sql"].lstrip()
        head = sql[:40].upper()
        if "pg_advisory_xact_lock" in sql:
            kinds["advisory lock"] += 1
        elif head.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")):
            kinds[head.split(" ")[0].lower()] += 1
        else:
            verb = head.split(" ")[0]
            table_name = ""
            marker = ' FROM "' if verb in ("SELECT", "DELETE") else (' INTO "' if verb == "INSERT" else 'UPDATE "')
            if marker in sql:
                table_name = sql.split(marker, 1)[1].split('"', 1)[0]
            kinds[f"{verb.lower()} {table_name}"] += 1
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in kinds.items())


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="assessments in the organization (default 10000)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per endpoint first (default 20)")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: gc.freeze() after set-up (what a server could do after loading the app)",
    )
    args = parser.parse_args(argv)
    if not 100 <= args.count <= 100000 or not 10 <= args.requests <= 5000 or not 0 <= args.warmup <= 500:
        parser.error("--count 100-100000, --requests 10-5000, --warmup 0-500")
    return args


class Endpoints:
    """The five endpoints, each requested through a client that checks for 200."""

    def __init__(self, ids: list, key: str):
        from django.test import Client

        self.ids = ids
        self.paths = {
            "API list": lambda i: "/api/v1/assessments/",
            "bare list": lambda i: "/bench/bare/assessments/",
            "API retrieve": lambda i: f"/api/v1/assessments/{ids[i % len(ids)]}/",
            "bare retrieve": lambda i: f"/bench/bare/assessments/{ids[i % len(ids)]}/",
            "bare retrieve + audit": lambda i: f"/bench/bare-audited/assessments/{ids[i % len(ids)]}/",
        }
        self.order = list(self.paths)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.bare_client = Client()  # the bare views ignore the key; no header keeps them honest

    def get(self, name: str, index: int):
        target = self.client if name.startswith("API") else self.bare_client
        response = target.get(self.paths[name](index))
        if response.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.content[:300]!r}")
        return response

    def check_same_data(self) -> int:
        """The bare paths return what the API returns; the first page's size in bytes."""
        api_page, bare_page = self.get("API list", 0).json(), self.get("bare list", 0).json()
        if len(api_page["results"]) != 50 or api_page["results"] != bare_page["results"]:
            raise RuntimeError("the bare list does not return the API's first page")
        if self.get("API retrieve", 7).json() != self.get("bare retrieve", 7).json():
            raise RuntimeError("the bare retrieve does not return the API's representation")
        return len(self.get("API list", 0).content)


class Measured:
    """Per endpoint: each request's time, its time in SQL and the full-GC pause that landed on it (ms)."""

    def __init__(self, order: list[str]):
        self.timings = {name: [] for name in order}
        self.sql_ms = {name: [] for name in order}
        self.gc_ms = {name: [] for name in order}
        self.elapsed = 0.0
        self.tracked = 0


def measure(endpoints: Endpoints, sample: list[int], args, rng: random.Random) -> Measured:
    from django.db import connection

    for i in range(args.warmup):
        for name in endpoints.order:
            endpoints.get(name, sample[i])
    measured = Measured(endpoints.order)
    in_sql = [0.0]
    # Full (generation-2) garbage collections: their pause lands on whichever request happens to
    # allocate the object that triggers one; counted per request so the tails can be told apart.
    full_gc = {"ms": 0.0, "started": 0.0}

    def on_gc(phase, info):
        if info["generation"] != 2:
            return
        if phase == "start":
            full_gc["started"] = time.perf_counter()
        else:
            full_gc["ms"] += (time.perf_counter() - full_gc["started"]) * 1000

    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    measured.tracked = len(gc.get_objects())
    gc.callbacks.append(on_gc)

    def timed_execute(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_sql[0] += time.perf_counter() - started

    began = time.perf_counter()
    with connection.execute_wrapper(timed_execute):
        for i in range(args.requests):
            index = sample[(args.warmup + i) % len(sample)]
            # A new order each round: a fixed one phase-locks periodic pauses (full GCs) onto one endpoint.
            for name in rng.sample(endpoints.order, len(endpoints.order)):
                in_sql[0] = 0.0
                full_gc["ms"] = 0.0
                started = time.perf_counter()
                endpoints.get(name, index)
                measured.timings[name].append((time.perf_counter() - started) * 1000)
                measured.sql_ms[name].append(in_sql[0] * 1000)
                measured.gc_ms[name].append(full_gc["ms"])
    measured.elapsed = time.perf_counter() - began
    gc.callbacks.remove(on_gc)
    return measured


def statements(endpoints: Endpoints, index: int) -> dict[str, tuple[int, str]]:
    """SQL statements of one request per endpoint: (count, kinds)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    queries = {}
    for name in endpoints.order:
        with CaptureQueriesContext(connection) as captured:
            endpoints.get(name, index)
        queries[name] = (len(captured.captured_queries), query_kinds(captured))
    return queries


def ratio_rows(stats: dict) -> list[list]:
    rows = []
    for kind in ("list", "retrieve"):
        api, bare = stats[f"API {kind}"], stats[f"bare {kind}"]
        p50, p99 = api["p50"] / bare["p50"], api["p99"] / bare["p99"]
        rows.append([kind, f"{p50:.2f}x", f"{p99:.2f}x", "met" if max(p50, p99) <= TARGET_RATIO else "MISSED"])
    return rows


def report_latency(measured: Measured, queries: dict, args) -> None:
    stats = {name: summary(values) for name, values in measured.timings.items()}
    rows = [
        [
            name,
            stats[name]["p50"],
            stats[name]["p90"],
            stats[name]["p99"],
            stats[name]["mean"],
            queries[name][0],
            summary(measured.sql_ms[name])["p50"],
        ]
        for name in measured.timings
    ]
    print(
        table(
            ["endpoint", "p50 ms", "p90 ms", "p99 ms", "mean ms", "SQL/request", "in SQL p50 ms"],
            rows,
            title=f"Latency in-process (Django test Client), {args.requests} requests each",
        )
    )
    print()
    print(table(["API / bare", "p50 ratio", "p99 ratio", "target <= 2x"], ratio_rows(stats)))
    bare_p50 = stats["bare retrieve"]["p50"]
    extra, audit_write = stats["API retrieve"]["p50"] - bare_p50, stats["bare retrieve + audit"]["p50"] - bare_p50
    print(
        f"retrieve: of the API's extra {extra:.1f} ms at p50, "
        f"the assessment.viewed audit write is {audit_write:.1f} ms "
        "(bare retrieve + audit - bare retrieve); the rest is authentication, permission, throttle and scope"
    )
    print()


def report_garbage_collections(measured: Measured, args) -> None:
    stats = {name: summary(values) for name, values in measured.timings.items()}
    gc_rows = []
    clean_stats = {}
    for name in measured.timings:
        hits = [ms for ms in measured.gc_ms[name] if ms > 0]
        clean = [t for t, ms in zip(measured.timings[name], measured.gc_ms[name], strict=True) if ms == 0]
        clean_stats[name] = summary(clean) if clean else stats[name]
        gc_rows.append(
            [
                name,
                len(hits),
                sum(hits) / len(hits) if hits else 0.0,
                clean_stats[name]["p50"],
                clean_stats[name]["p99"],
            ]
        )
    print(
        table(
            ["endpoint", "requests with a full GC", "mean full-GC pause ms", "p50 ms without", "p99 ms without"],
            gc_rows,
            title=f"Full (gen-2) garbage collections during the timed requests ({measured.tracked:,} objects tracked"
            + (", after gc.freeze()" if args.gc_freeze else "")
            + "): the same process pause, landing on whichever request triggers it",
        )
    )
    print()
    print(
        table(
            ["API / bare, requests without a full GC", "p50 ratio", "p99 ratio", "target <= 2x"],
            ratio_rows(clean_stats),
        )
    )
    print()


def main(argv=None) -> int:
    args = arguments(argv)
    print(f"api_latency: {args.count} assessments, {args.requests} requests per endpoint; {machine()}", flush=True)
    with Bench("api_latency", extra_env={"API_THROTTLE_RATE": "1000000/min"}):
        from django.test import override_settings

        from accounts.models import Organization
        from accounts.services import create_api_client

        organization = Organization.objects.create(name="Bench Clinic", slug="bench-clinic")
        rng = random.Random(20240601)
        ids = populate(organization, args.count, rng)
        api_client, key = create_api_client(
            acting_user="system:bench", organization=organization, name="Partner EHR", access="clinician"
        )
        urlconf = bare_urlconf(organization, api_client)
        with override_settings(ROOT_URLCONF=urlconf):
            endpoints = Endpoints(ids, key)
            list_bytes = endpoints.check_same_data()
            sample = rng.sample(range(len(ids)), min(len(ids), args.requests + args.warmup))
            measured = measure(endpoints, sample, args, rng)
            queries = statements(endpoints, sample[0])

        print(
            f"[run] {args.requests * len(endpoints.order)} timed requests in {measured.elapsed:.1f} s; "
            f"first page is {list_bytes:,} bytes"
        )
        print()
        report_latency(measured, queries, args)
        report_garbage_collections(measured, args)
        print("SQL statements per request:")
        for name in endpoints.order:
            print(f"  {name:22s} {queries[name][0]:2d}: {queries[name][1]}")
        print(f"[done] {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
