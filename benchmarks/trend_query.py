"""Trend query at scale: ``selectors.patient_biomarker_history`` and the patient page with 10 M biomarker
values (50,000 patients x 200 values), through the application's own query path under Row-Level Security.

    .venv/bin/python benchmarks/trend_query.py [--patients 50000] [--assessments 25] [--queries 1000]
        [--pages 200]

1. Its own database (``_bench.Bench``), migrated. One organization with ``patients`` patients (bulk_create:
   their identifiers are encrypted as the model does it) and a second, small organization, so that the
   tenant filter has something to exclude.
2. ``assessments`` completed cvd_risk assessments per patient, 73 days apart over 5 years (COPY of their ids
   and times into a temporary table, then one INSERT ... SELECT that copies the other columns from a
   template row), and 8 biomarker values per assessment (cvd_risk's catalogue, its units and ranges):
   ``patients x assessments x 8`` rows (10 M by default) streamed with COPY through psycopg. The rows go in
   in time order, one round of assessments for every patient after the other, as a clinic's would: a
   patient's values lie on different pages, not side by side. The biomarker table's secondary indexes are
   dropped for the COPY and built again after it (as the migrations define them), foreign-key triggers are
   off during the load (session_replication_role = replica; the ids are consistent by construction); then
   VACUUM ANALYZE and CHECKPOINT.
3. The measurements connect as ``medilens_app`` (``create_db_roles``): no superuser, no BYPASSRLS, so every
   query passes the tenant policy, as the web process's do. Each call runs as a request does it: inside
   ``organization_scope`` and one transaction (BEGIN, the set_config that names the tenant, the query,
   COMMIT).
   * ``patient_biomarker_history(patient, "pce_ascvd_10y", days=TREND_DAYS)`` (the patient page's chart:
     5 years, 25 values) for ``queries`` random patients: p50 / p90 / p99 / max; also with ``days=90`` (the
     API's default window). Target p99 < 5 ms.
   * EXPLAIN (ANALYZE, BUFFERS) of that query for one patient: the plan, and whether it is an index-only
     scan (heap fetches).
   * The patient page (``GET /patients/<id>/``, Django's test Client, a signed-in clinician, read auditing
     on) for ``pages`` random patients: statements per page (CaptureQueriesContext) and p50 / p99 time.

Loopback only; the database is dropped at the end. Loading 10 M rows takes several minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import Bench, machine, summary, table  # noqa: E402

TARGET_P99_MS = 5.0
VALUES_PER_ASSESSMENT = 8
DAYS_APART = 73
BATCH = 2000
TREND_NAME = "pce_ascvd_10y"


def arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=50000)
    parser.add_argument("--assessments", type=int, default=25, help="per patient; 8 values each (default 25)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument(
        "--plain-index", action="store_true",
        help="measure with biomarker_history_idx as it was before migration 0015 (keys only, no INCLUDE)",
    )
    args = parser.parse_args(argv)
    if not (100 <= args.patients <= 200000 and 1 <= args.assessments <= 100 and 1 <= args.queries <= 100000
            and 0 <= args.pages <= 10000):
        parser.error("--patients 100-200000, --assessments 1-100, --queries 1-100000, --pages 0-10000")
    return args


def make_patients(organization, count: int, rng: random.Random) -> list:
    from django.utils import timezone

    from accounts.tenancy import scopes_disabled
    from assessments.models import Patient

    ids = []
    now = timezone.now()
    with scopes_disabled():
        for start in range(0, count, BATCH):
            rows = Patient.objects.bulk_create(
                Patient(
                    organization=organization, mrn=f"T-{index:06d}", given_name="Trend", family_name=f"Patient {index}",
                    date_of_birth=date(rng.randint(1940, 1984), rng.randint(1, 12), rng.randint(1, 28)),
                    sex_at_birth=rng.choice(["female", "male"]), consent_recorded_at=now,
                )
                for index in range(start, min(count, start + BATCH))
            )
            ids.extend(row.pk for row in rows)
    return ids


def template_assessment(organization, patient_id):
    """One completed cvd_risk assessment made by the ORM: the other rows copy its columns."""
    from django.utils import timezone

    from accounts.tenancy import scopes_disabled
    from assessments.models import Assessment

    now = timezone.now()
    with scopes_disabled():
        return Assessment.objects.create(
            organization=organization, patient_id=patient_id, modality="cvd_risk", status=Assessment.Status.COMPLETED,
            inputs={"age": 55}, risk_score=7.5, risk_level="borderline", queued_at=now, started_at=now,
            completed_at=now, method_version="bench",
        )


def load(organization, patient_ids: list, per_patient: int, rng: random.Random) -> dict:
    """Assessments and biomarker values by COPY (module docstring, step 2); returns counts and seconds."""
    from django.db import connection
    from django.utils import timezone

    from modalities import registry

    catalogue = registry.get("cvd_risk").modality.catalogue
    specs = [spec for name, spec in catalogue.items() if name != "prevent_ascvd_10y"][:VALUES_PER_ASSESSMENT]
    assert any(spec.name == TREND_NAME for spec in specs)
    template = template_assessment(organization, patient_ids[0])
    now = timezone.now()
    first = now - timedelta(days=DAYS_APART * per_patient)
    connection.ensure_connection()
    psycopg_connection = connection.connection
    timings = {}
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        # Assessments: (id, patient, time) by COPY, the rest of each row from the template.
        began = time.perf_counter()
        cursor.execute("CREATE TEMP TABLE bench_assessment (id uuid, patient_id uuid, at timestamptz)")
        rounds = []
        with psycopg_connection.cursor().copy("COPY bench_assessment (id, patient_id, at) FROM STDIN") as copy:
            for k in range(per_patient):
                slot = first + timedelta(days=DAYS_APART * k)
                batch = []
                for patient_id in patient_ids:
                    at = slot + timedelta(minutes=rng.randint(0, 60 * 24 * 30))
                    assessment_id = uuid.uuid4()
                    batch.append((assessment_id, patient_id, at))
                    copy.write(f"{assessment_id}\t{patient_id}\t{at.isoformat()}\n")
                rounds.append(batch)
        columns = _columns(cursor, "assessments_assessment")
        overrides = {
            "id": "b.id", "patient_id": "b.patient_id", "created_at": "b.at", "updated_at": "b.at",
            "queued_at": "b.at", "started_at": "b.at", "completed_at": "b.at",
        }
        select = ", ".join(overrides.get(column, f't."{column}"') for column in columns)
        cursor.execute(
            f'INSERT INTO assessments_assessment ({", ".join(chr(34) + c + chr(34) for c in columns)}) '  # noqa: S608
            f"SELECT {select} FROM bench_assessment b CROSS JOIN assessments_assessment t WHERE t.id = %s "
            "ORDER BY b.at",
            [template.pk],
        )
        assessments = cursor.rowcount
        timings["assessments"] = time.perf_counter() - began
        # Biomarker values: secondary indexes off for the COPY, then built again as defined.
        began = time.perf_counter()
        rebuild = _drop_secondary_indexes(cursor, "assessments_biomarkervalue")
        fields = (
            "organization_id, assessment_id, patient_id, name, category, value, unit, reference_low, reference_high, "
            "reference_low_inclusive, reference_high_inclusive, flag, measured_at"
        )
        rows = 0
        with psycopg_connection.cursor().copy(f"COPY assessments_biomarkervalue ({fields}) FROM STDIN") as copy:
            for batch in rounds:
                buffer = io.StringIO()
                for assessment_id, patient_id, at in batch:
                    stamp = at.isoformat()
                    for spec in specs:
                        value = _value(spec, rng)
                        buffer.write(
                            f"{organization.pk}\t{assessment_id}\t{patient_id}\t{spec.name}\t{spec.category}\t{value}\t"
                            f"{spec.unit}\t{_number(spec.reference_low)}\t{_number(spec.reference_high)}\t"
                            f"{_flag(spec.inclusive('reference_low'))}\t{_flag(spec.inclusive('reference_high'))}\t"
                            f"{spec.flag(value)}\t{stamp}\n"
                        )
                    rows += len(specs)
                copy.write(buffer.getvalue())
        timings["biomarkers_copy"] = time.perf_counter() - began
        began = time.perf_counter()
        for statement in rebuild:
            cursor.execute(statement)
        timings["biomarkers_indexes"] = time.perf_counter() - began
        cursor.execute("SET session_replication_role = origin")
        cursor.execute("DROP TABLE bench_assessment")
    began = time.perf_counter()
    connection.close()
    connection.ensure_connection()
    psycopg_connection = connection.connection
    psycopg_connection.autocommit = True
    psycopg_connection.execute("VACUUM ANALYZE")
    psycopg_connection.execute("CHECKPOINT")
    timings["vacuum"] = time.perf_counter() - began
    return {"assessments": assessments, "biomarkers": rows, "timings": timings}


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = current_schema() "
        "ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _drop_secondary_indexes(cursor, table: str) -> list[str]:
    """Drop the table's indexes and unique constraints except its primary key; returns what rebuilds them."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    rebuild = []
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
        rebuild.append(definition)
    return rebuild


def _value(spec, rng: random.Random) -> float:
    low, high = spec.reference_low, spec.reference_high
    if low is None and high is None:
        return round(rng.uniform(1, 30), spec.decimals)
    centre = high if low is None else low if high is None else (low + high) / 2
    return round(rng.gauss(centre, abs(centre) * 0.2 + 1), spec.decimals)


def _number(value) -> str:
    return "\\N" if value is None else repr(float(value))


def _flag(value: bool) -> str:
    return "t" if value else "f"


def connect_as_application_role() -> None:
    """From here on, ``default`` connects as medilens_app: Row-Level Security applies to every query."""
    from django.core.management import call_command
    from django.db import connection

    from medilens.rls.roles import APP_ROLE

    call_command("create_db_roles", stdout=io.StringIO())
    connection.close()
    close_pool = getattr(connection, "close_pool", None)
    if close_pool is not None:
        close_pool()
    connection.settings_dict["USER"] = APP_ROLE
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user)"
        )
        user, bypass = cursor.fetchone()
    assert user == APP_ROLE and not bypass, (user, bypass)


def time_history(organization, patients: list, days: int) -> dict:
    """Three figures per patient: the selector as a request runs it (its own transaction: BEGIN, the tenant's
    set_config, the query, COMMIT), the selector alone (inside one open transaction, the tenant already
    set: the query's round trip and the ORM), and the database's own execution time (EXPLAIN ANALYZE)."""
    from django.db import transaction

    from accounts.tenancy import organization_scope
    from assessments import selectors

    request, alone, database, counts = [], [], [], []
    with organization_scope(organization):
        for patient in patients:
            started = time.perf_counter()
            with transaction.atomic():
                values = list(selectors.patient_biomarker_history(patient, TREND_NAME, days=days))
            request.append((time.perf_counter() - started) * 1000)
            counts.append(float(len(values)))
        with transaction.atomic():
            for patient in patients:
                started = time.perf_counter()
                list(selectors.patient_biomarker_history(patient, TREND_NAME, days=days))
                alone.append((time.perf_counter() - started) * 1000)
            for patient in patients:
                plan = selectors.patient_biomarker_history(patient, TREND_NAME, days=days).explain(analyze=True)
                database.append(float(re.search(r"Execution Time: ([0-9.]+) ms", plan).group(1)))
    return {
        "request": summary(request), "alone": summary(alone), "database": summary(database), "rows": summary(counts)
    }


def explain(organization, patient, days: int) -> str:
    from django.db import transaction

    from accounts.tenancy import organization_scope
    from assessments import selectors

    with organization_scope(organization), transaction.atomic():
        return selectors.patient_biomarker_history(patient, TREND_NAME, days=days).explain(analyze=True, buffers=True)


def time_pages(organization, patients: list) -> dict:
    from django.conf import settings
    from django.test import Client, override_settings

    from accounts import services as account_services
    from accounts.tenancy import scopes_disabled

    with scopes_disabled():
        user = account_services.create_user(
            acting_user="system:bench", email="trend-reader@bench.example.org", full_name="Trend Reader", password=None
        )
        account_services.add_membership(
            acting_user="system:bench", organization=organization, user=user, role="clinician"
        )
    client = Client()
    client.force_login(user)
    timings, statements = [], []
    # Production settings serve static files through a manifest that collectstatic writes: not built here, and
    # not what is measured.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": plain}
    with override_settings(STORAGES=storages):
        for patient in patients:
            _page(client, patient, timings, statements)
    return {"ms": summary(timings), "statements": summary(statements)}


def _page(client, patient, timings: list, statements: list) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    url = reverse("assessments:patient_detail", args=[patient.pk])
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(url, HTTP_HOST="localhost")
        timings.append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        raise RuntimeError(f"patient page answered {response.status_code}")
    if TREND_NAME not in response.content.decode():
        raise RuntimeError("the patient page shows no trend")
    statements.append(float(len(captured.captured_queries)))




def main(argv=None) -> int:
    args = arguments(argv)
    total = args.patients * args.assessments * VALUES_PER_ASSESSMENT
    print(f"trend_query: {args.patients} patients x {args.assessments * VALUES_PER_ASSESSMENT} values = {total:,} "
          f"biomarker values; {machine()}", flush=True)
    with Bench("trend_query"):
        from accounts.models import Organization
        from accounts.tenancy import scopes_disabled
        from assessments.models import Patient
        from assessments.trends import TREND_DAYS

        rng = random.Random(20261206)
        organization = Organization.objects.create(name="Trend Clinic", slug="trend-clinic")
        other = Organization.objects.create(name="Other Clinic", slug="other-clinic")
        began = time.perf_counter()
        patient_ids = make_patients(organization, args.patients, rng)
        other_ids = make_patients(other, max(100, args.patients // 10), rng)
        seconds = time.perf_counter() - began
        print(f"[load] {len(patient_ids) + len(other_ids):,} patients in {seconds:.1f} s", flush=True)
        loaded = load(organization, patient_ids, args.assessments, rng)
        load(other, other_ids, 2, rng)
        t = loaded["timings"]
        print(
            f"[load] {loaded['assessments']:,} assessments in {t['assessments']:.1f} s; {loaded['biomarkers']:,} "
            f"biomarker values: COPY {t['biomarkers_copy']:.1f} s ({loaded['biomarkers'] / t['biomarkers_copy']:,.0f} "
            f"rows/s), indexes {t['biomarkers_indexes']:.1f} s; VACUUM ANALYZE + CHECKPOINT {t['vacuum']:.1f} s",
            flush=True,
        )
        if args.plain_index:
            plain_history_index()
        sizes = table_sizes()
        with scopes_disabled():
            picked = rng.sample(patient_ids, min(args.queries, len(patient_ids)))
            sample = list(Patient.objects.filter(pk__in=picked).only("id", "organization"))
        connect_as_application_role()
        time_history(organization, sample[:50], TREND_DAYS)  # warm-up
        long = time_history(organization, sample, TREND_DAYS)
        short = time_history(organization, sample, 90)
        plan = explain(organization, sample[0], TREND_DAYS)
        pages = time_pages(organization, sample[: args.pages]) if args.pages else None
        report(args, long, short, plan, pages, sizes)
        print(f"[done] {machine()}")
    return 0


def plain_history_index() -> None:
    """biomarker_history_idx without its INCLUDE columns, as before assessments migration 0015 (for comparison)."""
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX biomarker_history_idx")
        cursor.execute(
            "CREATE INDEX biomarker_history_idx ON assessments_biomarkervalue "
            "(organization_id, patient_id, name, measured_at DESC)"
        )
    print(f"[--plain-index] biomarker_history_idx rebuilt without INCLUDE in {time.perf_counter() - began:.1f} s")


def table_sizes() -> list[list]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relname = 'assessments_biomarkervalue' OR c.oid IN (SELECT indexrelid FROM pg_index "
            "WHERE indrelid = 'assessments_biomarkervalue'::regclass) ORDER BY pg_relation_size(c.oid) DESC"
        )
        return [list(row) for row in cursor.fetchall()]


def report(args, long, short, plan, pages, sizes) -> None:
    rows = []
    for window, result in (("5 years (patient page)", long), ("90 days (API default)", short)):
        for label, key in (
            ("as a request runs it (own transaction)", "request"),
            ("the selector alone (open transaction)", "alone"),
            ("database execution (EXPLAIN ANALYZE)", "database"),
        ):
            ms = result[key]
            rows.append([f"{window}: {label}", f"{result['rows']['mean']:.1f}", ms["p50"], ms["p90"], ms["p99"],
                         ms["max"], "met" if ms["p99"] < TARGET_P99_MS else "MISSED"])
    print()
    headers = ["patient_biomarker_history, as medilens_app under RLS", "rows", "p50 ms", "p90", "p99", "max",
               f"p99 < {TARGET_P99_MS:g} ms"]
    print(table(headers, rows, title=f"{TREND_NAME} over {args.queries} random patients"))
    print()
    index_only = "Index Only Scan" in plan
    print(f"EXPLAIN (ANALYZE, BUFFERS), one patient: {'index-only scan' if index_only else 'NOT an index-only scan'}")
    print(plan)
    if pages:
        print()
        print(table(["patient page (GET /patients/<id>/, clinician, read auditing on)", "p50", "p90", "p99", "max"], [
            ["ms per page", pages["ms"]["p50"], pages["ms"]["p90"], pages["ms"]["p99"], pages["ms"]["max"]],
            ["statements per page", pages["statements"]["p50"], pages["statements"]["p90"], pages["statements"]["p99"],
             pages["statements"]["max"]],
        ], title=f"{args.pages} patient pages"))
    print()
    print(table(["relation", "size"], sizes, title="The biomarker table and its indexes"))


if __name__ == "__main__":
    sys.exit(main())
