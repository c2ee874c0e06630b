"""Reference directory search (issue 18): p50/p99 of 1,000 realistic queries (facility name or commune prefix,
facility name with a typo, facilities near a point, medicine name prefix, medicine ATC prefix) with a full-size
import (100,000 FINESS establishments; a 2,000,000-row OpenMedic year, which aggregates to 12,000 medicines),
on PostgreSQL and on the embedded SQLite.

    .venv/bin/python benchmarks/directory_search.py [--openmedic-rows 2000000] [--establishments 100000]
                                                    [--queries 1000] [--skip-sqlite]

The files are written by directory.generate (the publishers' layouts, made-up content) and loaded by the real
importer (`manage.py import_directory`), as an operator would. Each database is measured in its own process
(`--measure`): the queries are drawn from the imported rows (seeded), then timed three ways:

* database: the selector's ranked query without the cache (``facilities.ranked`` / ``medicines.ranked``), plus
  the first page's rows (50) by primary key: what a search costs the database when the cache does not hold it;
* API, cold: ``GET /api/v1/directory/...`` through Django's test client with an API key (authentication, the
  current import's id, the ranked query, the page, JSON), the search cache emptied first;
* API, warm: the same requests again, answered from the cache (Redis on PostgreSQL, the file cache on SQLite).

Targets (issue 18): p99 < 10 ms in the database, < 30 ms through the API. SQLite has no fuzzy matching: its
"typo" row measures a query that finds (almost) nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT, Bench, machine, summary, table  # noqa: E402

KINDS = ("facility prefix", "facility typo", "facility near", "medicine prefix", "medicine ATC")
TARGET_DB_MS, TARGET_API_MS = 10.0, 30.0
PAGE = 50


def _run(arguments: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def _import(label: str, env: dict[str, str], files: dict[str, Path]) -> None:
    for source, path in files.items():
        began = time.perf_counter()
        _run(["manage.py", "import_directory", source, "--file", str(path), "--no-progress"], env)
        print(f"[{label}] imported {source} in {time.perf_counter() - began:.0f} s", flush=True)


# --- the measuring process ----------------------------------------------------------------------------
def _typo(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "swap", "replace"))
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    if kind == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return word[:at] + rng.choice("aeiourstn") + word[at + 1 :]


def _queries(count: int, rng: random.Random) -> dict[str, list[dict]]:
    from directory.models import Facility, Medicine, Source
    from directory.search.hits import current_dataset

    per_kind = count // len(KINDS)

    def drawn(rows, how_many: int) -> list[dict]:  # the same rows for the same data, run after run
        ordered = list(rows.order_by("id"))
        return rng.sample(ordered, min(how_many, len(ordered)))

    facilities = drawn(
        Facility.objects.filter(dataset_id=current_dataset(Source.FINESS), latitude__isnull=False)
        .values("name_folded", "commune_folded", "latitude", "longitude", "category_code"),
        per_kind * 3,
    )
    medicines = drawn(
        Medicine.objects.filter(dataset_id=current_dataset(Source.OPENMEDIC)).values("name_folded", "atc5"),
        per_kind * 2,
    )
    queries: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for row in facilities[:per_kind]:
        words = (row["name_folded"] if rng.random() < 0.6 else row["commune_folded"]).split()
        cut = words[: rng.randint(1, min(2, len(words)))]
        cut[-1] = cut[-1][: rng.randint(min(3, len(cut[-1])), len(cut[-1]))]
        queries["facility prefix"].append({"q": " ".join(cut)})
    for row in facilities[per_kind:]:
        long_words = [
            w for w in (row["name_folded"] + " " + row["commune_folded"]).split() if len(w) >= 6 and w.isalpha()
        ]
        if long_words and len(queries["facility typo"]) < per_kind:
            queries["facility typo"].append({"q": _typo(rng.choice(long_words), rng)})
    for row in facilities[per_kind * 2 :]:
        query = {"near": f"{row['latitude']:.4f},{row['longitude']:.4f}", "radius_km": str(rng.choice((5, 10, 25, 50)))}
        if rng.random() < 0.5:
            query["category"] = row["category_code"]
        queries["facility near"].append(query)
    for row in medicines[:per_kind]:
        word = row["name_folded"].split()[0]
        queries["medicine prefix"].append({"q": word[: rng.randint(min(3, len(word)), len(word))]})
    for row in medicines[per_kind:]:
        queries["medicine ATC"].append({"atc": row["atc5"][: rng.choice((1, 3, 4, 5, 7))]})
    return queries


def _database(kind: str, values: dict) -> int:
    from directory.search import facilities, medicines, params
    from directory.search.hits import Hits, current_dataset

    if kind.startswith("facility"):
        dataset_id = current_dataset("finess")
        query = params.facility_query(values, known_categories=lambda: facilities.categories(dataset_id))
        ids = facilities.ranked(query, dataset_id)
        facilities.rows(Hits.of(dataset_id, ids), ids[:PAGE], query)
    else:
        query = params.medicine_query(values)
        ids = medicines.ranked(query, current_dataset("openmedic"))
        medicines.rows(ids[:PAGE])
    return len(ids)


def _clear_search_cache() -> None:
    """The embedded default's file cache whole (this run's own directory); on the shared Redis, only this run's
    directory keys."""
    from directory.search import cache as directory_cache

    directory_cache.forget_all()


def _api_client():
    from django.test import Client

    from accounts.models import ApiClient, Organization
    from accounts.tenancy import organization_scope, scopes_disabled

    with scopes_disabled():
        organization, _ = Organization.objects.get_or_create(slug="bench-directory", defaults={"name": "Bench"})
    key, prefix, digest = ApiClient.new_key()
    with organization_scope(organization):
        ApiClient.objects.create(
            organization=organization, name="Bench", access="read_only", key_prefix=prefix, key_digest=digest
        )
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def _timed(function, *args) -> tuple[float, object]:
    began = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - began) * 1000, result


def measure(count: int) -> dict:
    import django

    django.setup()
    rng = random.Random(18)
    queries = _queries(count, rng)
    client = _api_client()
    urls = {"facility": "/api/v1/directory/facilities/", "medicine": "/api/v1/directory/medicines/"}

    def api(kind: str, values: dict):
        response = client.get(urls[kind.split()[0]], values)
        assert response.status_code == 200, response.content[:500]
        return response

    for kind in KINDS:  # warm-up
        for values in queries[kind][:10]:
            _database(kind, values)
            api(kind, values)
    results: dict = {"kinds": {}, "engine": None}
    from django.db import connection

    version = connection.Database.sqlite_version if connection.vendor == "sqlite" else connection.pg_version
    results["engine"] = f"{connection.vendor} {version}"
    _clear_search_cache()
    for kind in KINDS:
        database, cold, warm, found = [], [], [], []
        for values in queries[kind]:
            elapsed, rows = _timed(_database, kind, values)
            database.append(elapsed)
            found.append(rows)
        for values in queries[kind]:
            cold.append(_timed(api, kind, values)[0])
        for values in queries[kind]:
            warm.append(_timed(api, kind, values)[0])
        results["kinds"][kind] = {
            "database": database,
            "cold": cold,
            "warm": warm,
            "found": found,
            "example": queries[kind][0],
        }
    return results


# --- the orchestrating process ------------------------------------------------------------------------
def _report(label: str, results: dict) -> None:
    rows, everything = [], {"database": [], "cold": [], "warm": []}
    for kind, figures in results["kinds"].items():
        d, c, w = summary(figures["database"]), summary(figures["cold"]), summary(figures["warm"])
        for name in everything:
            everything[name] += figures[name]
        found = sorted(figures["found"])
        rows.append(
            [
                kind,
                len(figures["database"]),
                d["p50"],
                d["p99"],
                c["p50"],
                c["p99"],
                w["p50"],
                w["p99"],
                found[len(found) // 2],
                json.dumps(figures["example"], ensure_ascii=False),
            ]
        )
    d, c, w = (summary(everything[name]) for name in ("database", "cold", "warm"))
    rows.append(
        ["all", len(everything["database"]), d["p50"], d["p99"], c["p50"], c["p99"], w["p50"], w["p99"], "", ""]
    )
    print()
    print(
        table(
            [
                "query",
                "n",
                "DB p50 ms",
                "DB p99 ms",
                "API cold p50",
                "API cold p99",
                "API warm p50",
                "API warm p99",
                "median rows",
                "example",
            ],
            rows,
            title=f"{label} ({results['engine']}): targets p99 < {TARGET_DB_MS:.0f} ms (DB), "
            f"< {TARGET_API_MS:.0f} ms (API)",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openmedic-rows", type=int, default=2_000_000)
    parser.add_argument("--establishments", type=int, default=100_000)
    parser.add_argument("--medicines", type=int, default=12_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        print("RESULTS " + json.dumps(measure(arguments.queries)))
        return
    print(f"[start] {machine()}", flush=True)
    extra = {"DIRECTORY_IMPORT_TOLERANCE": "100", "API_THROTTLE_RATE": "100000000/min"}
    with Bench("directory_search", extra_env=extra) as bench:
        from directory.generate import write_finess, write_openmedic

        began = time.perf_counter()
        (bench.tmp / "files").mkdir()
        files = {
            "finess": write_finess(bench.tmp / "files" / "finess.csv", arguments.establishments),
            "openmedic": write_openmedic(
                bench.tmp / "files" / "OPEN_MEDIC_2024.CSV", arguments.openmedic_rows, arguments.medicines
            ),
        }
        print(f"[files] written in {time.perf_counter() - began:.0f} s", flush=True)
        env = {**os.environ, **bench.env}
        databases = [] if arguments.skip_postgresql else [("PostgreSQL", env)]
        if not arguments.skip_sqlite:
            embedded = {key: value for key, value in env.items() if key not in ("DATABASE_URL", "REDIS_URL")}
            embedded["MEDILENS_VAR_DIR"] = str(bench.tmp / "embedded-var")
            databases.append(("SQLite", embedded))
        for label, database_env in databases:
            if label == "SQLite":
                _run(["manage.py", "migrate", "--verbosity", "0"], database_env)
            _import(label, database_env, files)
            if label == "PostgreSQL":
                from django.db import connection

                connection.cursor().execute("VACUUM ANALYZE directory_facility, directory_medicine")
            else:
                _run(
                    [
                        "-c",
                        "import django; django.setup(); from django.db import connection; "
                        "connection.cursor().execute('ANALYZE')",
                    ],
                    database_env,
                )
            output = _run(
                [str(Path(__file__).relative_to(ROOT)), "--measure", "--queries", str(arguments.queries)], database_env
            )
            line = next(line for line in output.splitlines() if line.startswith("RESULTS "))
            _report(label, json.loads(line.removeprefix("RESULTS ")))
    print(f"[end] {machine()}", flush=True)


if __name__ == "__main__":
    main()
