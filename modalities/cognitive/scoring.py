"""Scoring the raw responses: reaction time, digit span and word recall, each with its method and source.

A recalled word may carry one typing slip (see ``match_word``); the slip is measured as the optimal string
alignment distance (insert, delete, substitute or swap two neighbours), rapidfuzz's ``OSA``.
"""

from __future__ import annotations

import statistics
from typing import Any

from rapidfuzz.distance import OSA

from .inputs import normalize

FALSE_START_MS = 100  # faster than this is anticipation, not a reaction (Basner & Dinges 2011)
LAPSE_MS = 500  # this slow or slower is a lapse (Basner & Dinges 2011)
MIN_SCORABLE_RESPONSES = 5  # a median and an SD of fewer responses say little


def score_reaction_time(trials: list[dict]) -> dict[str, Any]:
    """Median and SD of valid RTs (100 ms up to the window), lapses and false starts.

    Whelan 2008: RT distributions are positively skewed, so the median, not the mean, is the central value
    and no outlier trimming is applied beyond the anticipation cut. Basner & Dinges 2011: false start =
    response before the stimulus or RT < 100 ms; lapse = RT >= 500 ms; an omission (no response in the
    window) is counted as a lapse as well, being the slowest possible response.
    """
    premature = sum(1 for t in trials if t["premature"])
    anticipations = sum(1 for t in trials if not t["premature"] and t["rt_ms"] is not None
                        and t["rt_ms"] < FALSE_START_MS)
    omissions = sum(1 for t in trials if not t["premature"] and t["rt_ms"] is None)
    valid = [float(t["rt_ms"]) for t in trials
             if not t["premature"] and t["rt_ms"] is not None and t["rt_ms"] >= FALSE_START_MS]
    slow = sum(1 for rt in valid if rt >= LAPSE_MS)
    out: dict[str, Any] = {
        "trials": len(trials),
        "valid_responses": len(valid),
        "premature_presses": premature,
        "anticipations": anticipations,
        "false_starts": premature + anticipations,
        "omissions": omissions,
        "lapses": slow + omissions,
        "median_ms": None,
        "sd_ms": None,
        "mean_ms": None,
    }
    if len(valid) >= MIN_SCORABLE_RESPONSES:
        out["median_ms"] = statistics.median(valid)
        out["mean_ms"] = statistics.fmean(valid)
        out["sd_ms"] = statistics.stdev(valid)  # sample SD (n - 1)
    return out


def span_correct(presented: list[int], response: list[int], *, backward: bool) -> bool:
    """All digits in order (reversed for backward): partial credit is not given, as in the usual procedure."""
    return response == (list(reversed(presented)) if backward else presented)


def score_digit_span(trials: list[dict], *, backward: bool = False) -> dict[str, Any]:
    """Longest span = the longest presented length with at least one trial recalled correctly (0 if none);
    trials correct = the count of correct trials (the raw score of the Wechsler-style procedure)."""
    correct = [t for t in trials if span_correct(t["presented"], t["response"], backward=backward)]
    return {
        "longest": max((len(t["presented"]) for t in correct), default=0),
        "trials_correct": len(correct),
        "trials": len(trials),
    }


def match_word(answer: str, listed: list[str]) -> str | None:
    """The list word an answer stands for, or None (an intrusion).

    Accepted: the word itself (any case, accents or punctuation), its plural (-s, -es), and, for words of
    five letters or more, one typing slip (one letter added, missing, wrong or two letters swapped) when it
    points to exactly one list word. Recall is scored for memory, not spelling, as examiners do when they
    accept recognisable misspellings; a slip in a shorter word too often makes another real word.
    """
    key = normalize(answer)
    if not key:
        return None
    keys = {normalize(word): word for word in listed}
    if key in keys:
        return keys[key]
    for suffix in ("s", "es"):
        if key.endswith(suffix) and key[: -len(suffix)] in keys:
            return keys[key[: -len(suffix)]]
    near = [word for k, word in keys.items() if len(k) >= 5 and OSA.distance(key, k) == 1]
    return near[0] if len(near) == 1 else None


def score_recall(listed: list[str], recalled: list[str]) -> dict[str, Any]:
    """Correct = different list words recalled; percent = correct / list length x 100; an answer that is
    no list word is an intrusion; a list word given again is a repetition (counted, not scored)."""
    found: list[str] = []
    intrusions: list[str] = []
    repetitions = 0
    for answer in recalled:
        word = match_word(answer, listed)
        if word is None:
            intrusions.append(answer)
        elif word in found:
            repetitions += 1
        else:
            found.append(word)
    return {
        "correct": len(found),
        "list_length": len(listed),
        "percent": 100.0 * len(found) / len(listed),
        "intrusions": len(intrusions),
        "repetitions": repetitions,
        "recalled_words": found,
    }
