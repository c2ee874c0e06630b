"""Cognitive battery scoring time and memory on this machine (no database, no storage server).

    .venv/bin/python benchmarks/modality_cognitive.py [--runs 200]

Input: the raw responses of one full standard administration as the browser sends them (20 reaction-time
trials, digit span forward and backward to the discontinue rule, a 10-word list with immediate and delayed
recall), the three demo cases in turn. Each run does what the web process does at submission
(``validate_inputs``) and what the worker does (``analyze`` with a fake context, stage by stage).

Reported: p50/p95 of validation + analysis per battery; peak memory as tracemalloc's peak of Python
allocations in a separate untimed pass and the resident-set (ru_maxrss) growth. Target: the issue's "every non-model
analyzer under 2 s p95 for a typical input".
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from _modality import no_stage, percentile, rss_mb, setup_django

TARGET_MS = 2000.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    setup_django("cognitive")

    from modalities import registry
    from modalities.base import AnalysisContext, PatientFacts

    analyzer = registry.get("cognitive")
    facts = PatientFacts(
        age=72,
        sex_at_birth="female",
        bmi=None,
        has_diabetes=False,
        treated_hypertension=False,
        current_smoker=False,
        on_statin=False,
        prior_cardiovascular_disease=False,
    )
    cases = [case.inputs for case in registry.demo_cases("cognitive")]

    def one(inputs):
        resolved = analyzer.validate_inputs(inputs=inputs, patient=facts)
        result = analyzer.analyze(AnalysisContext(inputs=resolved, files=[], patient=facts, stage=no_stage))
        result.check(analyzer.modality.catalogue)
        return result

    for inputs in cases:  # warm-up: imports, first-call costs
        one(inputs)
    rss_before = rss_mb()
    times = []
    for run in range(args.runs):
        started = time.perf_counter()
        one(cases[run % len(cases)])
        times.append((time.perf_counter() - started) * 1000)
    # Memory in a separate pass: tracemalloc slows every allocation, so it must not be on while timing.
    tracemalloc.start()
    for inputs in cases:
        one(inputs)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    p50, p95 = statistics.median(times), percentile(times, 95)
    trials = len(cases[0]["reaction_time"]["trials"])
    print(
        f"cognitive battery: {args.runs} runs over {len(cases)} demo cases ({trials} RT trials, full digit span, "
        "10-word recall)"
    )
    print(
        f"validate + analyze per battery   p50 {p50:8.3f} ms   p95 {p95:8.3f} ms   "
        f"target p95 < {TARGET_MS:.0f} ms: {'met' if p95 < TARGET_MS else 'NOT met'}"
    )
    print(f"peak Python allocations (tracemalloc) {peak / 1024:8.1f} KiB")
    print(
        f"resident set growth (ru_maxrss)       {rss_mb() - rss_before:8.2f} MiB "
        f"(process peak {rss_mb():.1f} MiB, Django loaded)"
    )


if __name__ == "__main__":
    main()
