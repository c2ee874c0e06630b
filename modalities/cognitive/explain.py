"""The result of a scored battery: biomarkers at their stored precision, what could not be measured and why, the
notes, the recommendations and the summary a clinician reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base import AnalysisResult, rounded
from ..results import Measurement, NotApplicable
from .catalogue import CATALOGUE, METHOD_VERSION
from .protocol import RESPONSE_WINDOW_MS
from .rule import (
    ASSESSMENT_SOURCE,
    DOMAIN_LABELS,
    RISK_RULE_NOTE,
    SCORE_WITHHELD,
    SCREENING_SOURCE,
    marked_domains,
    reaction_time_interpretable,
    risk_from,
)
from .scoring import MIN_SCORABLE_RESPONSES

SHORT_DELAY_MS = 60 * 1000  # under a minute the "delayed" recall is hardly delayed: said in the notes
# Numbers from the raw record worth showing with the result: (key in details, label, unit, decimals).
MEASUREMENTS = (
    ("reaction_time_mean_ms", "Reaction time (mean of valid responses)", "ms", 1),
    ("reaction_time_trials", "Reaction-time trials", "trials", 0),
    ("reaction_time_valid_responses", "Reaction-time trials with a valid response", "trials", 0),
    ("reaction_time_omissions", "Reaction-time trials with no response", "trials", 0),
    ("reaction_time_premature_presses", "Key presses before the stimulus", "trials", 0),
    ("reaction_time_anticipations", "Responses under 100 ms", "trials", 0),
    ("digit_span_forward_trials_correct", "Forward digit-span trials correct", "trials", 0),
    ("digit_span_backward_trials_correct", "Backward digit-span trials correct", "trials", 0),
    ("delayed_recall_words", "Words recalled after the delay", "words", 0),
    ("word_list_length", "Words in the list", "words", 0),
    ("delayed_recall_repetitions", "Repetitions in delayed recall", "words", 0),
    ("recall_delay_seconds", "Recall delay", "s", 0),
    ("retention_percent", "Retention (delayed / immediate recall)", "%", 1),
)


@dataclass(frozen=True)
class Scores:
    """The scores of one battery (``scoring``); backward and immediate are None when not administered."""

    rt: dict[str, Any]
    forward: dict[str, Any]
    backward: dict[str, Any] | None
    immediate: dict[str, Any] | None
    delayed: dict[str, Any]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _not_applicable(name: str, reason: str) -> NotApplicable:
    return NotApplicable(name, CATALOGUE[name].label, reason)


def biomarkers(scores: Scores) -> tuple[dict[str, float], list[NotApplicable]]:
    """The measured values at their catalogue precision, and what was not measured with the reason."""
    rt, missing = scores.rt, []
    values: dict[str, float] = {
        "simple_rt_lapses": rt["lapses"],
        "simple_rt_false_starts": rt["false_starts"],
        "digit_span_forward": scores.forward["longest"],
        "delayed_recall": scores.delayed["percent"],
        "delayed_recall_intrusions": scores.delayed["intrusions"],
    }
    if rt["median_ms"] is not None:
        values["simple_rt_median"] = rt["median_ms"]
        values["simple_rt_variability"] = rt["sd_ms"]
    else:
        why = (f"only {rt['valid_responses']} of {rt['trials']} trials had a valid response "
               f"(100-{RESPONSE_WINDOW_MS} ms); at least {MIN_SCORABLE_RESPONSES} are needed")  # fmt: skip
        missing += [_not_applicable("simple_rt_median", why), _not_applicable("simple_rt_variability", why)]
    if scores.backward is not None:
        values["digit_span_backward"] = scores.backward["longest"]
    else:
        missing.append(_not_applicable("digit_span_backward", "backward digit span was not administered"))
    if scores.immediate is not None:
        values["immediate_recall"] = scores.immediate["percent"]
    else:
        missing.append(_not_applicable("immediate_recall", "no immediate recall was recorded"))
    return rounded(CATALOGUE, values), missing


def _retention(scores: Scores) -> float | None:
    immediate = scores.immediate
    return 100.0 * scores.delayed["correct"] / immediate["correct"] if immediate and immediate["correct"] else None


def _notes(inputs: dict, rt: dict) -> list[str]:
    notes = []
    if not reaction_time_interpretable(rt):
        notes.append(
            f"Reaction time not interpretable: {rt['false_starts']} of {rt['trials']} trials were false starts "
            "(pressed early or under 100 ms). Repeat the task after explaining it again."
        )
    delay_ms = inputs["word_recall"]["delay_ms"]
    if delay_ms < SHORT_DELAY_MS:
        notes.append(f"The recall delay was {delay_ms / 1000:.0f} s, shorter than the usual minutes: "
                     "the delayed recall reads closer to immediate recall.")  # fmt: skip
    timing = (inputs.get("protocol") or {}).get("timing")
    if timing and timing != "standard":
        notes.append(f"Administered with '{timing}' timings, not the standard ones.")
    notes.append("No reference ranges: no published norm applies to this browser-administered battery.")
    notes.append(RISK_RULE_NOTE)
    return notes


def _details(inputs: dict, scores: Scores, values: dict, domains: dict) -> dict[str, Any]:
    rt, forward, backward, delayed = scores.rt, scores.forward, scores.backward, scores.delayed
    retention = _retention(scores)
    return {
        "simple_rt_median": values.get("simple_rt_median"),
        "simple_rt_variability": values.get("simple_rt_variability"),
        "reaction_time_mean_ms": round(rt["mean_ms"], 1) if rt["mean_ms"] is not None else None,
        "reaction_time_trials": rt["trials"],
        "reaction_time_valid_responses": rt["valid_responses"],
        "reaction_time_omissions": rt["omissions"],
        "reaction_time_premature_presses": rt["premature_presses"],
        "reaction_time_anticipations": rt["anticipations"],
        "digit_span_forward_trials_correct": forward["trials_correct"],
        "digit_span_backward": values.get("digit_span_backward"),
        "digit_span_backward_trials_correct": backward["trials_correct"] if backward else None,
        "immediate_recall": values.get("immediate_recall"),
        "delayed_recall_words": delayed["correct"],
        "word_list_length": delayed["list_length"],
        "delayed_recall_repetitions": delayed["repetitions"],
        "recall_delay_seconds": round(inputs["word_recall"]["delay_ms"] / 1000, 1),
        "retention_percent": round(retention, 1) if retention is not None else None,
        "marked_memory": domains["memory"],
        "marked_attention_span": domains["attention_span"],
        "marked_processing_speed": domains["processing_speed"],
        "risk_rule": "marked findings: 0 -> low, 1 -> borderline, 2-3 -> intermediate (never high)",
    }


def _measurements(details: dict[str, Any]) -> list[Measurement]:
    return [
        Measurement(key, label, details[key], unit, decimals, derived=key == "retention_percent")
        for key, label, unit, decimals in MEASUREMENTS
        if details[key] is not None
    ]


def recommendations(level: str, domains: dict[str, bool | None]) -> list[dict]:
    marked = [DOMAIN_LABELS[name] for name, flagged in domains.items() if flagged]
    items = []
    if level == "low":
        items.append({
            "text": "No marked finding on this brief screen. It does not exclude cognitive impairment: when "
                    "there is clinical concern, assess with a validated instrument and an informant history.",
            "source": SCREENING_SOURCE,
        })  # fmt: skip
    else:
        items.append({
            "text": f"Marked finding in {', '.join(marked)}. This brief, unnormed screen is not a diagnosis: "
                    "consider repeating it and a structured clinical cognitive assessment (history, informant "
                    "report, validated instrument) before drawing conclusions.",
            "source": ASSESSMENT_SOURCE,
        })  # fmt: skip
    if domains["processing_speed"] is not False:  # marked, or not interpretable
        items.append({
            "text": "Slow or missing responses also follow sleepiness, sedating medicines, low mood, visual or "
                    "motor problems and an unfamiliar device: consider these before reading them as cognitive.",
            "source": "Basner & Dinges, Sleep 2011;34:581",
        })  # fmt: skip
    return items


def summary(scores: Scores, marked: list[str]) -> str:
    rt, forward, backward, immediate, delayed = (
        scores.rt, scores.forward, scores.backward, scores.immediate, scores.delayed
    )  # fmt: skip
    parts = []
    if rt["median_ms"] is not None:
        parts.append(f"Reaction time median {rt['median_ms']:.0f} ms (SD {rt['sd_ms']:.0f} ms) over "
                     f"{_count(rt['valid_responses'], 'valid response')}, {_count(rt['lapses'], 'lapse')}, "
                     f"{_count(rt['false_starts'], 'false start')}.")  # fmt: skip
    else:
        parts.append(f"Reaction time not scored ({_count(rt['valid_responses'], 'valid response')}); "
                     f"{_count(rt['lapses'], 'lapse')}, {_count(rt['false_starts'], 'false start')}.")  # fmt: skip
    span = f"Digit span forward {forward['longest']}"
    if backward is not None:
        span += f", backward {backward['longest']}"
    parts.append(span + ".")
    recall = f"Delayed recall {delayed['correct']}/{delayed['list_length']} words"
    if immediate is not None:
        recall += f" (immediate {immediate['correct']}/{immediate['list_length']})"
    parts.append(recall + f", {_count(delayed['intrusions'], 'intrusion')}.")
    if not reaction_time_interpretable(rt):
        parts.append("Reaction time not interpretable (too many false starts): repeat that task.")
    parts.append(f"Marked finding: {', '.join(marked)}." if marked else "No marked finding.")
    parts.append("A screen, not a diagnosis.")
    return " ".join(parts)


def result(inputs: dict[str, Any], scores: Scores) -> AnalysisResult:
    values, not_applicable = biomarkers(scores)
    domains = marked_domains(delayed_recall_percent=values["delayed_recall"], forward=scores.forward, rt=scores.rt)
    if domains["processing_speed"] is None:
        not_applicable.append(NotApplicable(
            "marked_processing_speed", "Processing speed and vigilance finding", "too many false starts to interpret"
        ))  # fmt: skip
    if _retention(scores) is None:
        not_applicable.append(NotApplicable(
            "retention_percent", "Retention (delayed / immediate recall)", "no immediate recall to compare with"
        ))  # fmt: skip
    level = risk_from(domains)
    details = _details(inputs, scores, values, domains)
    return AnalysisResult(
        method_version=METHOD_VERSION,
        # No validated composite exists; a 0-100 number would read as a probability. See the package docstring.
        score=None,
        score_withheld=SCORE_WITHHELD,
        risk_level=level,
        confidence=None,
        recommendations=recommendations(level, domains),
        biomarkers=values,
        measurements=_measurements(details),
        not_applicable=not_applicable,
        notes=_notes(inputs, scores.rt),
        details=details,
        explanation_summary=summary(scores, [DOMAIN_LABELS[name] for name, flagged in domains.items() if flagged]),
    )
