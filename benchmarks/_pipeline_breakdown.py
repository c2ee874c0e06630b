"""Where the time of assessments.pipeline.run goes, measured in this process (benchmarks/pipeline_throughput.py,
step 5): statements per run by kind with their time, time per phase (by wrapping a few functions here
only), or a cProfile.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import re
import statistics
import time
from collections import Counter

from _bench import summary

_TABLE_AFTER = {
    "SELECT": re.compile(r'\sFROM\s+"?([A-Za-z_]+)"?', re.I),
    "INSERT": re.compile(r'^\s*INSERT\s+INTO\s+"?([A-Za-z_]+)"?', re.I),
    "UPDATE": re.compile(r'^\s*UPDATE\s+"?([A-Za-z_]+)"?', re.I),
    "DELETE": re.compile(r'^\s*DELETE\s+FROM\s+"?([A-Za-z_]+)"?', re.I),
}


def query_kind(sql: str) -> str:
    """A statement's verb and table, e.g. 'UPDATE assessments_pipelinestage' (parameters left out)."""
    text = re.sub(r"^\d+ times: ", "", sql.strip())  # how Django logs an executemany()
    head = text[:30].upper()
    for word in ("BEGIN", "COMMIT", "ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT", "SAVEPOINT", "ROLLBACK"):
        if head.startswith(word):
            return word
    if "pg_advisory_xact_lock" in text:
        return "SELECT pg_advisory_xact_lock (audit chain)"
    verb = head.split(" ", 1)[0]
    pattern = _TABLE_AFTER.get(verb)
    outer = text
    while (inner := re.sub(r"\(SELECT [^()]*\)", "", outer)) != outer:  # subqueries out: the outer table's name
        outer = inner
    match = pattern.search(outer) if pattern else None
    name = match.group(1) if match else "?"
    if verb == "SELECT":
        if " FOR UPDATE" in outer.upper():
            return f"SELECT ... FOR UPDATE {name}"
        if head.startswith(("SELECT 1 AS", "SELECT %S AS")):
            return f"SELECT 1 (exists) {name}"
    if verb == "INSERT" and "UNNEST" in text.upper():
        return f"INSERT {name} (bulk)"
    return f"{verb} {name}"


class PhaseTimer:
    """Wall time spent in a few functions of the pipeline, by monkeypatching them in THIS process only
    (application files are not changed)."""

    def __init__(self):
        self.totals: Counter = Counter()
        self._undo = []

    def wrap(self, owner, attribute: str, label: str):
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[label] += time.perf_counter() - started

        setattr(owner, attribute, timed)
        self._undo.append((owner, attribute, original))

    def wrap_stage_recorder(self, pipeline_module):
        """Time the stage recorder's own work (bookkeeping, and any publish or cancel check), not the stage
        body."""
        recorder_class = pipeline_module.StageRecorder
        original = recorder_class.__call__
        totals = self.totals

        @contextlib.contextmanager
        def timed_stage(recorder, name):
            started = time.perf_counter()
            manager = original(recorder, name)
            manager.__enter__()
            totals["stage"] += time.perf_counter() - started
            try:
                yield
            except BaseException as error:
                manager.__exit__(type(error), error, error.__traceback__)
                raise
            started = time.perf_counter()
            manager.__exit__(None, None, None)
            totals["stage"] += time.perf_counter() - started

        recorder_class.__call__ = timed_stage
        self._undo.append((recorder_class, "__call__", original))

    def restore(self):
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)
        self._undo.clear()


def in_process_runs(organization, ids: list, *, mode: str, batch_size: int = 1) -> dict:
    """assessments.pipeline.run on ``ids`` in this process (as the task runs it, inside the organization's
    scope), one call per id as one message each. ``batch_size`` above 1: as the worker runs them with
    ASSESSMENT_BATCH_SIZE, the first call of a batch claims the next ones and their calls find them
    finished ("skipped").

    mode "plain": wall time per run, nothing else measured (no query logging: it costs time itself);
    "breakdown": statements per run by kind with their time, and time per phase;
    "profile": cProfile.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import audit
    from accounts.tenancy import organization_scope
    from assessments import pipeline, services
    from modalities.cvd_risk.analyzer import CvdRiskAnalyzer

    times = []
    kinds: Counter = Counter()
    kind_seconds: Counter = Counter()
    query_counts = []
    profiler = cProfile.Profile() if mode == "profile" else None
    phases = PhaseTimer()
    breakdown = mode == "breakdown"
    # Statement times measured here (perf_counter around each execute; a transaction's BEGIN goes out
    # with its first statement); COMMITs timed by wrapping the connection's commit().
    pending: list[tuple[str, float]] = []

    def timed_execute(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            pending.append((query_kind(sql), time.perf_counter() - started))

    original_commit = connection.commit

    def timed_commit():
        started = time.perf_counter()
        try:
            return original_commit()
        finally:
            pending.append(("COMMIT", time.perf_counter() - started))

    if breakdown:
        phases.wrap(pipeline, "_lock", "claim")
        phases.wrap(pipeline, "_claim", "claim")
        phases.wrap(services, "save_results", "save_results")
        phases.wrap(services, "write_results", "save_results")
        phases.wrap(services, "write_first_results", "save_results")
        phases.wrap(CvdRiskAnalyzer, "analyze", "analyze")
        phases.wrap(audit, "record", "audit")
        phases.wrap_stage_recorder(pipeline)
        connection.commit = timed_commit
    try:
        with connection.execute_wrapper(timed_execute) if breakdown else contextlib.nullcontext():
            for assessment_id in ids:
                pending.clear()
                with (
                    organization_scope(organization),
                    CaptureQueriesContext(connection) if breakdown else contextlib.nullcontext() as captured,
                ):
                    started = time.perf_counter()
                    if profiler:
                        profiler.enable()
                    outcome = pipeline.run(assessment_id, batch_size=batch_size)
                    if profiler:
                        profiler.disable()
                    times.append((time.perf_counter() - started) * 1000)
                if outcome != "completed" and not (batch_size > 1 and outcome == "skipped"):
                    raise RuntimeError(f"in-process run of {assessment_id}: {outcome}")
                if breakdown:
                    query_counts.append(len(captured.captured_queries))
                    for query in captured.captured_queries:
                        kinds[query_kind(query["sql"])] += 1
                    for kind, seconds in pending:
                        kind_seconds[kind] += seconds
    finally:
        phases.restore()
        if breakdown:
            del connection.commit  # the proxy forwards to the default connection's instance attribute
    result = {
        "times": summary(times),
        "queries": statistics.fmean(query_counts) if query_counts else 0,
        "kinds": kinds,
        "kind_seconds": kind_seconds,
        "phases": phases.totals,
        "n": len(ids),
    }
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        out.write("\n")
        stats.sort_stats("tottime").print_stats(15)
        result["profile"] = out.getvalue()
    return result
