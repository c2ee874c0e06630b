"""The cognitive modality: a short battery done in the browser, scored from its raw responses.

Three tasks, administered by ``static/js/cognitive-battery.js`` in the portal's patient (kiosk) mode or
sent by a partner through the API as the same JSON:

* **simple reaction time**: a circle appears after a random foreperiod; the patient presses the space bar;
* **digit span**: forward (and optionally backward), digits shown one at a time, typed back;
* **word recall**: a list of common concrete nouns shown one at a time, recalled at once (optional) and
  again after the other tasks (delayed recall).

The inputs are the raw responses and timings (``RESPONSES_SCHEMA`` below, checked strictly by
``validate_inputs``); every score is computed here, never by the browser.

Scoring (method and source next to each function):

* reaction time: the **median** of valid reaction times and their intra-individual standard deviation
  (RT distributions are skewed: Whelan R., "Effective analysis of reaction time data", The Psychological
  Record 2008;58:475-482; intra-individual variability: Hultsch, MacDonald & Dixon, J Gerontol B
  2002;57:P101); a response under 100 ms or a key press before the stimulus is a **false start** and a
  response of 500 ms or more, or none within the 5 s window, is a **lapse** (the PVT definitions of Basner &
  Dinges, "Maximizing sensitivity of the PVT to sleep loss", Sleep 2011;34:581-591);
* digit span: the **longest length recalled correctly** in at least one trial, with two trials per length
  and a stop after both trials of one length are failed (the usual digit-span procedure, e.g. the Wechsler
  scales' Digit Span subtest, described here generically; computerised administration: Woods et al.,
  "Improving digit span assessment of short-term verbal memory", J Clin Exp Neuropsychol 2011;33:101-111);
* word recall: **correct words / list length**, each list word counted once, plus **intrusions** (words
  not on the list) and repetitions (free-recall scoring as in list-learning tests, e.g. the CERAD word list
  procedure of Morris et al., Neurology 1989;39:1159-1165; Lezak et al., Neuropsychological Assessment,
  5th ed., 2012, ch. 11).

Reference ranges: none. Published norms belong to other administrations (a spoken digit span, a reaction
time box, other word lists); a browser and keyboard add their own latency of tens of milliseconds
(Anwyl-Irvine et al., Behav Res Methods 2021;53:1407-1425). Every catalogue entry therefore says "no
established reference range" and has none, rather than borrowing a norm that does not apply.

Risk rule (a screen, not a diagnosis; ``risk_score`` is None: no validated composite exists, and a number
on a 0-100 scale would read as a probability it is not). Three domains, each with a deliberately extreme
"marked finding" threshold, far below how cognitively healthy adults perform, so that it rarely fires by
chance and never claims more than "look closer":

* memory: delayed recall of 20 % of the list or less (2 of 10 words);
* attention span: longest forward digit span of 4 or less (below the 7 +/- 2 span of healthy adults:
  Miller, Psychol Rev 1956;63:81-97);
* processing speed / vigilance: lapses in 25 % of the reaction-time trials or more (at that rate the
  typical response is slow or missing; Basner & Dinges 2011's lapse definition).

``risk_level``: no marked finding -> "low"; one -> "borderline"; two or three -> "intermediate". "high" is
never given: an unnormed brief screen cannot establish high risk. A domain that could not be scored
(e.g. too many false starts) is reported as not interpretable and counts as no finding, and the summary
asks for a repeat. ``confidence`` is None: the scores are counts and medians, not model outputs.
"""

from __future__ import annotations

import math
import statistics
import unicodedata
from typing import Any

from .base import (
    AnalysisContext,
    AnalysisError,
    AnalysisResult,
    Analyzer,
    BiomarkerSpec,
    DemoCase,
    InputError,
    StageSpec,
    rounded,
)
from .registry import register
from .results import Measurement, NotApplicable

METHOD_VERSION = "cognitive-battery-1.0"

# --- stimuli ---------------------------------------------------------------------------------------------
# Word lists written for MediLens: common, concrete, picturable nouns of one or two syllables, each word from
# a different everyday category so that the lists do not invite grouping. They are deliberately NOT the
# lists of published tests (RAVLT, CERAD, HVLT-R, MoCA, MMSE...): those word lists are copyrighted and
# several are licensed for a fee (HVLT-R, MoCA, MMSE); reproducing them in software is not permitted. These
# lists are MediLens' own and are released with the code. Three equivalent lists let a retest use new words.
WORD_LISTS: dict[str, tuple[str, ...]] = {
    "A": ("candle", "bucket", "ladder", "onion", "blanket", "rabbit", "hammer", "wagon", "button", "kettle"),
    "B": ("basket", "carpet", "lemon", "pillow", "spoon", "tractor", "whistle", "saddle", "mirror", "pumpkin"),
    "C": ("anchor", "bottle", "pepper", "ribbon", "goat", "jacket", "wallet", "feather", "helmet", "barrel"),
}

# Digit span: lengths presented and trials per length (two, as in the usual procedure).
FORWARD_LENGTHS = range(3, 10)
BACKWARD_LENGTHS = range(2, 9)
TRIALS_PER_LENGTH = 2

# --- timing rules ----------------------------------------------------------------------------------------
RESPONSE_WINDOW_MS = 5000  # no key press within this window: an omission (recorded as rt_ms null)
FALSE_START_MS = 100  # faster than this is anticipation, not a reaction (Basner & Dinges 2011)
LAPSE_MS = 500  # this slow or slower is a lapse (Basner & Dinges 2011)
MIN_SCORABLE_RESPONSES = 5  # a median and an SD of fewer responses say little
FOREPERIOD_RANGE_MS = (200, 10000)
MAX_DELAY_MS = 2 * 60 * 60 * 1000
SHORT_DELAY_MS = 60 * 1000  # under a minute the "delayed" recall is hardly delayed: said in the notes

# --- risk rule -------------------------------------------------------------------------------------------
MARKED_DELAYED_RECALL_PERCENT = 20.0
MARKED_FORWARD_SPAN = 4
MARKED_LAPSE_FRACTION = 0.25
UNINTERPRETABLE_FALSE_START_FRACTION = 0.25

# --- schema limits ---------------------------------------------------------------------------------------
RT_TRIALS = (5, 100)
DIGIT_TRIALS = (1, 40)
DIGIT_PRESENTED_LENGTH = (2, 12)
DIGIT_RESPONSE_MAX = 24
LIST_LENGTH = (5, 30)
RECALLED_MAX = 100
WORD_MAX_CHARS = 40
PROTOCOL_MAX_KEYS = 20
MAX_ERRORS = 20

NO_RANGE = "No established reference range for this browser-administered task."
WHELAN = "Median of valid RTs: Whelan, Psychol Rec 2008;58:475"
HULTSCH = "Intra-individual SD of valid RTs: Hultsch et al., J Gerontol B 2002;57:P101"
BASNER = "Basner & Dinges, Sleep 2011;34:581"
SPAN = "Longest correct length, two trials per length (digit-span procedure; Woods et al., JCEN 2011;33:101)"
RECALL = "Free-recall scoring, 10-word list (procedure as Morris et al., Neurology 1989;39:1159; own words)"

# Display precision: times and percentages to 0.1 (a median of whole milliseconds can end in .5; one word of a
# 10-word list is 10%), counts whole.
CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec("simple_rt_median", "Simple reaction time (median)", "processing_speed", "ms",
                      f"{WHELAN}. {NO_RANGE}", decimals=1),
        BiomarkerSpec("simple_rt_variability", "Reaction-time variability (SD)", "processing_speed", "ms",
                      f"{HULTSCH}. {NO_RANGE}", decimals=1),
        BiomarkerSpec("simple_rt_lapses", "Reaction-time lapses (>= 500 ms or none)", "attention", "trials",
                      f"Lapse = RT >= 500 ms or no response: {BASNER}. {NO_RANGE}", decimals=0),
        BiomarkerSpec("simple_rt_false_starts", "False starts (< 100 ms or early)", "attention", "trials",
                      f"False start = RT < 100 ms or a press before the stimulus: {BASNER}. {NO_RANGE}", decimals=0),
        BiomarkerSpec("digit_span_forward", "Digit span forward (longest)", "working_memory", "digits",
                      f"{SPAN}. {NO_RANGE}", decimals=0),
        BiomarkerSpec("digit_span_backward", "Digit span backward (longest)", "working_memory", "digits",
                      f"{SPAN}. {NO_RANGE}", decimals=0),
        BiomarkerSpec("immediate_recall", "Immediate word recall", "memory", "% of list", f"{RECALL}. {NO_RANGE}",
                      decimals=1),
        BiomarkerSpec("delayed_recall", "Delayed word recall", "memory", "% of list", f"{RECALL}. {NO_RANGE}",
                      decimals=1),
        BiomarkerSpec("delayed_recall_intrusions", "Intrusions in delayed recall", "memory", "words",
                      f"Words recalled that were not on the list: {RECALL}. {NO_RANGE}", decimals=0),
    ]
}

# The raw responses, for the README and the API documentation. ``validate_inputs`` enforces it.
RESPONSES_SCHEMA = {
    "version": "1 (optional)",
    "protocol": "optional object of up to 20 short text, number or true/false settings (recorded, not scored)",
    "reaction_time": {
        "trials": f"{RT_TRIALS[0]}-{RT_TRIALS[1]} of {{foreperiod_ms, rt_ms, premature?}}: foreperiod_ms "
        f"{FOREPERIOD_RANGE_MS[0]}-{FOREPERIOD_RANGE_MS[1]}; rt_ms above 0 and at most {RESPONSE_WINDOW_MS}, or "
        "null when there was no response (or the key was pressed early: premature true)",
    },
    "digit_span": {
        "forward": "1-40 of {presented: [digits], response: [digits], response_ms?}",
        "backward": "optional, the same; the response is correct when it is the presented digits reversed",
    },
    "word_recall": {
        "list_id": "optional text",
        "words": f"{LIST_LENGTH[0]}-{LIST_LENGTH[1]} different words presented",
        "immediate": "optional list of words recalled right after the presentation",
        "delayed": "list of words recalled after the delay (may be empty)",
        "delay_ms": f"0-{MAX_DELAY_MS}: time from the end of the presentation to the delayed recall",
    },
}


# --- validation ------------------------------------------------------------------------------------------
class _Errors:
    """Field errors keyed by the path of the offending value: ``reaction_time.trials[3].rt_ms``."""

    def __init__(self):
        self.errors: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.setdefault(path, message)

    def __bool__(self):
        return bool(self.errors)


def _is_number(value) -> bool:
    # bool is an int in Python; JSON true is not a number of milliseconds.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _object(errors: _Errors, path: str, value, *, required: set[str], optional: set[str] = frozenset()) -> bool:
    if not isinstance(value, dict):
        errors.add(path, "Must be a JSON object.")
        return False
    for key in sorted(set(value) - required - set(optional)):
        errors.add(f"{path}.{key}" if path else key, "Unknown field.")
    for key in sorted(required - set(value)):
        errors.add(f"{path}.{key}" if path else key, "This field is required.")
    return True


def _list(errors: _Errors, path: str, value, *, low: int, high: int, what: str) -> bool:
    if not isinstance(value, list):
        errors.add(path, f"Must be a list of {what}.")
        return False
    if not low <= len(value) <= high:
        errors.add(path, f"Must hold {low} to {high} {what} ({len(value)} given).")
        return False
    return True


def _number(errors: _Errors, path: str, value, *, low: float, high: float, unit: str = "ms") -> bool:
    if not _is_number(value):
        errors.add(path, f"Must be a number of {unit}.")
        return False
    if not low <= value <= high:
        errors.add(path, f"{value:g} {unit} is not plausible (expected {low:g}-{high:g} {unit}).")
        return False
    return True


def _word(errors: _Errors, path: str, value) -> str | None:
    if not isinstance(value, str):
        errors.add(path, "Must be a word (text).")
        return None
    text = " ".join(value.split())
    if not text:
        errors.add(path, "Must not be empty.")
        return None
    if len(text) > WORD_MAX_CHARS:
        errors.add(path, f"Longer than {WORD_MAX_CHARS} characters.")
        return None
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        errors.add(path, "Contains control characters.")
        return None
    return text


def _validate_reaction_time(errors: _Errors, value) -> dict | None:
    if not _object(errors, "reaction_time", value, required={"trials"}):
        return None
    trials = value.get("trials")
    if not _list(errors, "reaction_time.trials", trials, low=RT_TRIALS[0], high=RT_TRIALS[1], what="trials"):
        return None
    clean = []
    for index, trial in enumerate(trials):
        path = f"reaction_time.trials[{index}]"
        if not _object(errors, path, trial, required={"foreperiod_ms", "rt_ms"}, optional={"premature"}):
            continue
        premature = trial.get("premature", False)
        if not isinstance(premature, bool):
            errors.add(f"{path}.premature", "Must be true or false.")
            continue
        if "foreperiod_ms" in trial:
            _number(errors, f"{path}.foreperiod_ms", trial["foreperiod_ms"],
                    low=FOREPERIOD_RANGE_MS[0], high=FOREPERIOD_RANGE_MS[1])
        rt = trial.get("rt_ms")
        if premature and rt is not None:
            errors.add(f"{path}.rt_ms", "Must be null when the key was pressed before the stimulus (premature).")
        elif rt is not None:
            if not _is_number(rt):
                errors.add(f"{path}.rt_ms", "Must be a number of ms, or null when there was no response.")
            elif rt <= 0:
                errors.add(f"{path}.rt_ms", f"{rt:g} ms is not a reaction time (must be above 0).")
            elif rt > RESPONSE_WINDOW_MS:
                errors.add(
                    f"{path}.rt_ms",
                    f"{rt:g} ms is beyond the {RESPONSE_WINDOW_MS} ms response window: record no response as null.",
                )
        clean.append({"foreperiod_ms": trial.get("foreperiod_ms"), "rt_ms": rt, "premature": premature})
    return {"trials": clean}


def _digits(errors: _Errors, path: str, value, *, low: int, high: int) -> list[int] | None:
    if not isinstance(value, list):
        errors.add(path, "Must be a list of digits 0-9.")
        return None
    if not low <= len(value) <= high:
        errors.add(path, f"Must hold {low} to {high} digits ({len(value)} given).")
        return None
    for position, digit in enumerate(value):
        if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit <= 9:
            errors.add(f"{path}[{position}]", "Must be a digit 0-9 (a JSON integer).")
            return None
    return list(value)


def _validate_digit_trials(errors: _Errors, path: str, trials) -> list[dict] | None:
    if not _list(errors, path, trials, low=DIGIT_TRIALS[0], high=DIGIT_TRIALS[1], what="trials"):
        return None
    clean = []
    for index, trial in enumerate(trials):
        where = f"{path}[{index}]"
        if not _object(errors, where, trial, required={"presented", "response"}, optional={"response_ms"}):
            continue
        presented = _digits(errors, f"{where}.presented", trial.get("presented"),
                            low=DIGIT_PRESENTED_LENGTH[0], high=DIGIT_PRESENTED_LENGTH[1])
        response = _digits(errors, f"{where}.response", trial.get("response"), low=0, high=DIGIT_RESPONSE_MAX)
        item = {"presented": presented, "response": response}
        if "response_ms" in trial:
            _number(errors, f"{where}.response_ms", trial["response_ms"], low=0, high=300_000)
            item["response_ms"] = trial["response_ms"]
        clean.append(item)
    return clean


def _validate_digit_span(errors: _Errors, value) -> dict | None:
    if not _object(errors, "digit_span", value, required={"forward"}, optional={"backward"}):
        return None
    clean = {"forward": _validate_digit_trials(errors, "digit_span.forward", value.get("forward"))}
    if "backward" in value and value["backward"] is not None:
        clean["backward"] = _validate_digit_trials(errors, "digit_span.backward", value["backward"])
    return clean


def _validate_word_recall(errors: _Errors, value) -> dict | None:
    if not _object(errors, "word_recall", value, required={"words", "delayed", "delay_ms"},
                   optional={"immediate", "list_id"}):
        return None
    clean: dict[str, Any] = {}
    words = value.get("words")
    if _list(errors, "word_recall.words", words, low=LIST_LENGTH[0], high=LIST_LENGTH[1], what="words"):
        listed = [_word(errors, f"word_recall.words[{i}]", w) for i, w in enumerate(words)]
        keys = [_normalize(w) for w in listed if w]
        if any(not k for k in keys):
            errors.add("word_recall.words", "Every presented word must contain letters.")
        elif len(set(keys)) != len(keys):
            errors.add("word_recall.words", "The presented words must all be different.")
        clean["words"] = listed
    for name in ("immediate", "delayed"):
        if name not in value or (name == "immediate" and value[name] is None):
            continue
        recalled = value[name]
        if _list(errors, f"word_recall.{name}", recalled, low=0, high=RECALLED_MAX, what="words"):
            clean[name] = [_word(errors, f"word_recall.{name}[{i}]", w) for i, w in enumerate(recalled)]
    if "delay_ms" in value:
        _number(errors, "word_recall.delay_ms", value["delay_ms"], low=0, high=MAX_DELAY_MS)
        clean["delay_ms"] = value["delay_ms"]
    list_id = value.get("list_id")
    if list_id is not None:
        if not isinstance(list_id, str) or not 0 < len(list_id) <= 20:
            errors.add("word_recall.list_id", "Must be a short text (1-20 characters).")
        clean["list_id"] = list_id
    return clean


def _validate_protocol(errors: _Errors, value) -> dict | None:
    if not isinstance(value, dict):
        errors.add("protocol", "Must be a JSON object.")
        return None
    if len(value) > PROTOCOL_MAX_KEYS:
        errors.add("protocol", f"At most {PROTOCOL_MAX_KEYS} settings.")
        return None
    for key, item in value.items():
        if len(key) > 40:
            errors.add("protocol", "Setting names are at most 40 characters.")
        elif not (isinstance(item, (bool, str)) or _is_number(item)) or (isinstance(item, str) and len(item) > 100):
            errors.add(f"protocol.{key}", "Must be a short text (up to 100 characters), a number or true/false.")
    return dict(value)


def validate_responses(inputs: Any) -> dict[str, Any]:
    """The raw responses, checked against ``RESPONSES_SCHEMA``; raises InputError with every field error
    (up to 20) keyed by its path."""
    errors = _Errors()
    if not isinstance(inputs, dict) or not inputs:
        raise InputError({"inputs": "The cognitive battery needs its raw responses: an object with "
                                    "reaction_time, digit_span and word_recall."})
    _object(errors, "", inputs, required={"reaction_time", "digit_span", "word_recall"},
            optional={"version", "protocol"})
    if "version" in inputs and inputs["version"] != 1:
        errors.add("version", "Only version 1 of the responses format exists.")
    resolved: dict[str, Any] = {"version": 1}
    if inputs.get("protocol") is not None:
        resolved["protocol"] = _validate_protocol(errors, inputs["protocol"])
    if "reaction_time" in inputs:
        resolved["reaction_time"] = _validate_reaction_time(errors, inputs["reaction_time"])
    if "digit_span" in inputs:
        resolved["digit_span"] = _validate_digit_span(errors, inputs["digit_span"])
    if "word_recall" in inputs:
        resolved["word_recall"] = _validate_word_recall(errors, inputs["word_recall"])
    if errors:
        raise InputError(errors.errors)
    return resolved


# --- scoring ---------------------------------------------------------------------------------------------
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


def _normalize(text: str | None) -> str:
    """Case, accents, spaces and punctuation do not matter: 'Candle.' and ' candle' are the same answer."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalpha())


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def match_word(answer: str, listed: list[str]) -> str | None:
    """The list word an answer stands for, or None (an intrusion).

    Accepted: the word itself (any case, accents or punctuation), its plural (-s, -es), and, for words of
    five letters or more, one typing slip (one letter added, missing, wrong or two letters swapped) when it
    points to exactly one list word. Recall is scored for memory, not spelling, as examiners do when they
    accept recognisable misspellings; a slip in a shorter word too often makes another real word.
    """
    key = _normalize(answer)
    if not key:
        return None
    keys = {_normalize(word): word for word in listed}
    if key in keys:
        return keys[key]
    for suffix in ("s", "es"):
        if key.endswith(suffix) and key[: -len(suffix)] in keys:
            return keys[key[: -len(suffix)]]
    near = [word for k, word in keys.items() if len(k) >= 5 and _edit_distance(key, k) == 1]
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


def risk_from(domains: dict[str, bool | None]) -> str:
    """Marked findings -> level (see the module docstring). None = not interpretable, counted as no finding."""
    marked = sum(1 for flagged in domains.values() if flagged)
    if marked == 0:
        return "low"
    if marked == 1:
        return "borderline"
    return "intermediate"


# --- the analyzer ----------------------------------------------------------------------------------------
def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


SCREENING_SOURCE = (
    "US Preventive Services Task Force, Screening for Cognitive Impairment in Older Adults, JAMA 2020;323:757"
)
ASSESSMENT_SOURCE = (
    "NICE guideline NG97 (2018), Dementia: assessment, section 1.2 Initial assessment in non-specialist settings"
)
DOMAIN_LABELS = {
    "memory": "memory (delayed recall)",
    "attention_span": "attention span (forward digit span)",
    "processing_speed": "processing speed and vigilance (reaction-time lapses)",
}


SCORE_WITHHELD = (
    "Not given: no validated composite score exists for this browser-administered battery. Each measure is "
    "read on its own, and the risk level counts marked findings (see the notes)."
)
RISK_RULE_NOTE = (
    "Risk level, MediLens's own screening rule (not a validated score): a marked finding is delayed recall of "
    f"{MARKED_DELAYED_RECALL_PERCENT:g}% of the list or less, a forward digit span of {MARKED_FORWARD_SPAN} or "
    f"less, or lapses in {MARKED_LAPSE_FRACTION:.0%} or more of the reaction-time trials (MediLens's thresholds, "
    "set far below how healthy adults perform); none is low, one borderline, two or three intermediate, never "
    "high: a brief unnormed screen cannot establish high risk."
)
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


def _not_applicable(name: str, reason: str) -> NotApplicable:
    return NotApplicable(name, CATALOGUE[name].label, reason)


def _measurements(details: dict[str, Any]) -> list[Measurement]:
    return [
        Measurement(key, label, details[key], unit, decimals, derived=key == "retention_percent")
        for key, label, unit, decimals in MEASUREMENTS
        if details[key] is not None
    ]


@register
class CognitiveAnalyzer(Analyzer):
    name = "cognitive"
    no_confidence_reason = "Not applicable: a scoring rule on the test results, not a probability"
    label = "Cognitive battery"
    description = (
        "Simple reaction time, digit span and delayed word recall, done by the patient in the portal's patient "
        "mode (or sent as raw responses through the API) and scored from the raw responses."
    )
    queue = "default"
    live_progress = False  # scoring the battery takes about a millisecond
    deadline_seconds = 30
    stages = (
        StageSpec("validate", "Check the raw responses"),
        StageSpec("score", "Score reaction time, digit span and word recall"),
        StageSpec("interpret", "Screening rule and summary"),
    )
    catalogue = CATALOGUE

    def validate_inputs(self, *, inputs: dict[str, Any], patient) -> dict[str, Any]:
        return validate_responses(inputs)

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        with context.stage("validate"):
            try:
                inputs = validate_responses(context.inputs)
            except InputError as error:  # stored inputs are validated at submission; this guards old rows
                raise AnalysisError(f"The stored responses are not usable: {error}") from None
        with context.stage("score"):
            rt = score_reaction_time(inputs["reaction_time"]["trials"])
            forward = score_digit_span(inputs["digit_span"]["forward"])
            backward_trials = inputs["digit_span"].get("backward")
            backward = score_digit_span(backward_trials, backward=True) if backward_trials else None
            words = inputs["word_recall"]["words"]
            delayed = score_recall(words, inputs["word_recall"]["delayed"])
            immediate_trials = inputs["word_recall"].get("immediate")
            immediate = score_recall(words, immediate_trials) if immediate_trials is not None else None
        with context.stage("interpret"):
            return self._result(inputs, rt, forward, backward, immediate, delayed)

    def _result(self, inputs, rt, forward, backward, immediate, delayed) -> AnalysisResult:
        not_applicable: list[NotApplicable] = []
        notes: list[str] = []
        values: dict[str, float] = {
            "simple_rt_lapses": rt["lapses"],
            "simple_rt_false_starts": rt["false_starts"],
            "digit_span_forward": forward["longest"],
            "delayed_recall": delayed["percent"],
            "delayed_recall_intrusions": delayed["intrusions"],
        }
        if rt["median_ms"] is not None:
            values["simple_rt_median"] = rt["median_ms"]
            values["simple_rt_variability"] = rt["sd_ms"]
        else:
            why = (f"only {rt['valid_responses']} of {rt['trials']} trials had a valid response "
                   f"(100-{RESPONSE_WINDOW_MS} ms); at least {MIN_SCORABLE_RESPONSES} are needed")
            not_applicable += [_not_applicable("simple_rt_median", why), _not_applicable("simple_rt_variability", why)]
        if backward is not None:
            values["digit_span_backward"] = backward["longest"]
        else:
            not_applicable.append(_not_applicable("digit_span_backward", "backward digit span was not administered"))
        if immediate is not None:
            values["immediate_recall"] = immediate["percent"]
        else:
            not_applicable.append(_not_applicable("immediate_recall", "no immediate recall was recorded"))
        biomarkers = rounded(CATALOGUE, values)

        false_start_fraction = rt["false_starts"] / rt["trials"]
        rt_interpretable = false_start_fraction < UNINTERPRETABLE_FALSE_START_FRACTION
        domains: dict[str, bool | None] = {
            "memory": biomarkers["delayed_recall"] <= MARKED_DELAYED_RECALL_PERCENT,  # as stored and shown
            "attention_span": forward["longest"] <= MARKED_FORWARD_SPAN,
            "processing_speed": (rt["lapses"] / rt["trials"] >= MARKED_LAPSE_FRACTION) if rt_interpretable else None,
        }
        if not rt_interpretable:
            notes.append(
                f"Reaction time not interpretable: {rt['false_starts']} of {rt['trials']} trials were false starts "
                "(pressed early or under 100 ms). Repeat the task after explaining it again."
            )
            not_applicable.append(NotApplicable(
                "marked_processing_speed", "Processing speed and vigilance finding",
                "too many false starts to interpret",
            ))
        retention = (100.0 * delayed["correct"] / immediate["correct"]) if immediate and immediate["correct"] else None
        if retention is None:
            not_applicable.append(NotApplicable(
                "retention_percent", "Retention (delayed / immediate recall)", "no immediate recall to compare with"
            ))
        delay_ms = inputs["word_recall"]["delay_ms"]
        if delay_ms < SHORT_DELAY_MS:
            notes.append(f"The recall delay was {delay_ms / 1000:.0f} s, shorter than the usual minutes: "
                         "the delayed recall reads closer to immediate recall.")
        timing = (inputs.get("protocol") or {}).get("timing")
        if timing and timing != "standard":
            notes.append(f"Administered with '{timing}' timings, not the standard ones.")
        notes.append("No reference ranges: no published norm applies to this browser-administered battery.")
        notes.append(RISK_RULE_NOTE)

        level = risk_from(domains)
        marked = [DOMAIN_LABELS[name] for name, flagged in domains.items() if flagged]
        details: dict[str, Any] = {
            "simple_rt_median": biomarkers.get("simple_rt_median"),
            "simple_rt_variability": biomarkers.get("simple_rt_variability"),
            "reaction_time_mean_ms": round(rt["mean_ms"], 1) if rt["mean_ms"] is not None else None,
            "reaction_time_trials": rt["trials"],
            "reaction_time_valid_responses": rt["valid_responses"],
            "reaction_time_omissions": rt["omissions"],
            "reaction_time_premature_presses": rt["premature_presses"],
            "reaction_time_anticipations": rt["anticipations"],
            "digit_span_forward_trials_correct": forward["trials_correct"],
            "digit_span_backward": biomarkers.get("digit_span_backward"),
            "digit_span_backward_trials_correct": backward["trials_correct"] if backward else None,
            "immediate_recall": biomarkers.get("immediate_recall"),
            "delayed_recall_words": delayed["correct"],
            "word_list_length": delayed["list_length"],
            "delayed_recall_repetitions": delayed["repetitions"],
            "recall_delay_seconds": round(delay_ms / 1000, 1),
            "retention_percent": round(retention, 1) if retention is not None else None,
            "marked_memory": domains["memory"],
            "marked_attention_span": domains["attention_span"],
            "marked_processing_speed": domains["processing_speed"],
            "risk_rule": "marked findings: 0 -> low, 1 -> borderline, 2-3 -> intermediate (never high)",
        }
        return AnalysisResult(
            method_version=METHOD_VERSION,
            # No validated composite exists; a 0-100 number would read as a probability. See module docstring.
            score=None,
            score_withheld=SCORE_WITHHELD,
            risk_level=level,
            confidence=None,
            recommendations=self._recommendations(level, domains),
            biomarkers=biomarkers,
            measurements=_measurements(details),
            not_applicable=not_applicable,
            notes=notes,
            details=details,
            explanation_summary=self._summary(rt, forward, backward, immediate, delayed, marked, rt_interpretable),
        )

    @staticmethod
    def _recommendations(level: str, domains: dict[str, bool | None]) -> list[dict]:
        marked = [DOMAIN_LABELS[name] for name, flagged in domains.items() if flagged]
        items = []
        if level == "low":
            items.append({
                "text": "No marked finding on this brief screen. It does not exclude cognitive impairment: when "
                        "there is clinical concern, assess with a validated instrument and an informant history.",
                "source": SCREENING_SOURCE,
            })
        else:
            items.append({
                "text": f"Marked finding in {', '.join(marked)}. This brief, unnormed screen is not a diagnosis: "
                        "consider repeating it and a structured clinical cognitive assessment (history, informant "
                        "report, validated instrument) before drawing conclusions.",
                "source": ASSESSMENT_SOURCE,
            })
        if domains["processing_speed"] is not False:  # marked, or not interpretable
            items.append({
                "text": "Slow or missing responses also follow sleepiness, sedating medicines, low mood, visual or "
                        "motor problems and an unfamiliar device: consider these before reading them as cognitive.",
                "source": "Basner & Dinges, Sleep 2011;34:581",
            })
        return items

    @staticmethod
    def _summary(rt, forward, backward, immediate, delayed, marked, rt_interpretable) -> str:
        parts = []
        if rt["median_ms"] is not None:
            parts.append(f"Reaction time median {rt['median_ms']:.0f} ms (SD {rt['sd_ms']:.0f} ms) over "
                         f"{_count(rt['valid_responses'], 'valid response')}, {_count(rt['lapses'], 'lapse')}, "
                         f"{_count(rt['false_starts'], 'false start')}.")
        else:
            parts.append(f"Reaction time not scored ({_count(rt['valid_responses'], 'valid response')}); "
                         f"{_count(rt['lapses'], 'lapse')}, {_count(rt['false_starts'], 'false start')}.")
        span = f"Digit span forward {forward['longest']}"
        if backward is not None:
            span += f", backward {backward['longest']}"
        parts.append(span + ".")
        recall = f"Delayed recall {delayed['correct']}/{delayed['list_length']} words"
        if immediate is not None:
            recall += f" (immediate {immediate['correct']}/{immediate['list_length']})"
        parts.append(recall + f", {_count(delayed['intrusions'], 'intrusion')}.")
        if not rt_interpretable:
            parts.append("Reaction time not interpretable (too many false starts): repeat that task.")
        parts.append(f"Marked finding: {', '.join(marked)}." if marked else "No marked finding.")
        parts.append("A screen, not a diagnosis.")
        return " ".join(parts)

    def demo_cases(self) -> list[DemoCase]:
        return [DemoCase(inputs=case) for case in (normal_case(), slowed_case(), poor_recall_case())]


# --- generated responses (demo and tests) ----------------------------------------------------------------
def protocol_sequences(rng) -> dict[str, list[list[int]]]:
    """Digit sequences for one administration: two per length, digits 1-9 without repeats within a sequence
    (zero is left out: it is read as 'oh' or 'zero', and the usual procedure uses 1-9)."""
    return {
        "forward": [rng.sample(range(1, 10), n) for n in FORWARD_LENGTHS for _ in range(TRIALS_PER_LENGTH)],
        "backward": [rng.sample(range(1, 10), n) for n in BACKWARD_LENGTHS for _ in range(TRIALS_PER_LENGTH)],
    }


def _span_trials(sequences: list[list[int]], span: int, *, backward: bool) -> list[dict]:
    """Trials as the battery records them for someone whose span is ``span``: correct up to that length,
    both trials wrong at the next length, then stop (the discontinue rule)."""
    trials = []
    for sequence in sequences:
        if len(sequence) > span + 1:
            break
        right = list(reversed(sequence)) if backward else list(sequence)
        response = right if len(sequence) <= span else right[:-2] + right[-1:]
        trials.append({"presented": list(sequence), "response": response, "response_ms": 1500 + 400 * len(sequence)})
    return trials


def synthetic_responses(*, rts: list[float | None], forward_span: int, backward_span: int | None,
                        immediate: list[str] | None, delayed: list[str], list_id: str = "A", seed: int = 7,
                        delay_ms: int = 300_000) -> dict:
    import random

    rng = random.Random(seed)
    sequences = protocol_sequences(rng)
    responses: dict[str, Any] = {
        "version": 1,
        "protocol": {"battery": "medilens-cognitive", "timing": "standard"},
        "reaction_time": {"trials": [
            {"foreperiod_ms": rng.randint(1000, 3000), "rt_ms": rt, "premature": False} for rt in rts
        ]},
        "digit_span": {"forward": _span_trials(sequences["forward"], forward_span, backward=False)},
        "word_recall": {"list_id": list_id, "words": list(WORD_LISTS[list_id]), "delayed": list(delayed),
                        "delay_ms": delay_ms},
    }
    if backward_span is not None:
        responses["digit_span"]["backward"] = _span_trials(sequences["backward"], backward_span, backward=True)
    if immediate is not None:
        responses["word_recall"]["immediate"] = list(immediate)
    return responses


def normal_case() -> dict:
    words = WORD_LISTS["A"]
    rts = [262, 281, 249, 301, 275, 258, 290, 243, 312, 268, 284, 255, 297, 271, 264, 288, 252, 305, 279, 266]
    return synthetic_responses(rts=rts, forward_span=7, backward_span=5, immediate=list(words[:7]),
                               delayed=[*words[:6], "Buttons"], list_id="A", seed=11)


def slowed_case() -> dict:
    words = WORD_LISTS["B"]
    rts = [512, 438, None, 611, 475, 540, 398, 702, 455, 530, None, 489, 566, 421, 598, 467, 633, 509, 444, 580]
    return synthetic_responses(rts=rts, forward_span=5, backward_span=3, immediate=list(words[:6]),
                               delayed=[*words[:4], "chair"], list_id="B", seed=12)


def poor_recall_case() -> dict:
    words = WORD_LISTS["C"]
    rts = [318, 342, 305, 366, 331, 297, 352, 340, 314, 327, 361, 309, 348, 322, 336, 301, 355, 329, 344, 317]
    return synthetic_responses(rts=rts, forward_span=6, backward_span=4, immediate=list(words[:4]),
                               delayed=["goat", "table", "window", "goat"], list_id="C", seed=13)
