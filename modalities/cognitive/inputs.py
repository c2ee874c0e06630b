"""The battery's raw responses: a JSON Schema (``RESPONSES_SCHEMA``, checked with the ``jsonschema`` package and
published in the API's OpenAPI document) and the few checks a schema cannot say (a word's letters, a premature
press with a time). Every error is keyed by the path of the offending value, ``reaction_time.trials[3].rt_ms``,
and says what is wanted in words: each schema node carries its messages under ``x-messages`` (by keyword; ``*``
for any), with ``{value}`` and ``{count}`` standing for the value and its length.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from jsonschema import Draft202012Validator, validators

from ..base import InputError
from ..inputs import InputSchema
from .protocol import FOREPERIOD_RANGE_MS, MAX_DELAY_MS, RESPONSE_WINDOW_MS

RT_TRIALS = (5, 100)
DIGIT_TRIALS = (1, 40)
DIGIT_PRESENTED_LENGTH = (2, 12)
DIGIT_RESPONSE_MAX = 24
LIST_LENGTH = (5, 30)
RECALLED_MAX = 100
WORD_MAX_CHARS = 40
PROTOCOL_MAX_KEYS = 20
SETTING_NAME_MAX_CHARS = 40
MAX_ERRORS = 20

OBJECT = {"type": "Must be a JSON object."}


def _milliseconds(low: int, high: int, description: str) -> dict:
    plausible = f"{{value:g}} ms is not plausible (expected {low:g}-{high:g} ms)."
    return {
        "type": "number", "minimum": low, "maximum": high, "description": description,
        "x-messages": {"type": "Must be a number of ms.", "minimum": plausible, "maximum": plausible},
    }  # fmt: skip


def _list(items: dict, low: int, high: int, what: str, *, nullable: bool = False) -> dict:
    size = f"Must hold {low} to {high} {what} ({{count}} given)."
    return {
        "type": ["array", "null"] if nullable else "array", "minItems": low, "maxItems": high, "items": items,
        "x-messages": {"type": f"Must be a list of {what}.", "minItems": size, "maxItems": size},
    }  # fmt: skip


def _object(properties: dict, required: list[str], description: str = "", *, nullable: bool = False) -> dict:
    node = {"type": ["object", "null"] if nullable else "object", "properties": properties, "required": required,
            "additionalProperties": False, "x-messages": OBJECT}  # fmt: skip
    return {**node, "description": description} if description else node


WORD = {
    "type": "string",
    "maxLength": WORD_MAX_CHARS,
    "description": "A word as typed (case, accents and spaces do not matter when scored).",
    "x-messages": {"type": "Must be a word (text).", "maxLength": f"Longer than {WORD_MAX_CHARS} characters."},
}
DIGITS_MESSAGES = {"type": "Must be a list of digits 0-9."}
DIGIT = {"type": "integer", "minimum": 0, "maximum": 9, "x-messages": {"*": "Must be a digit 0-9 (a JSON integer)."}}


def _digits(low: int, high: int) -> dict:
    size = f"Must hold {low} to {high} digits ({{count}} given)."
    return {"type": "array", "minItems": low, "maxItems": high, "items": DIGIT,
            "x-messages": {**DIGITS_MESSAGES, "minItems": size, "maxItems": size}}  # fmt: skip


REACTION_TRIAL = _object(
    {
        "foreperiod_ms": _milliseconds(*FOREPERIOD_RANGE_MS, "Time from the trial's start to the stimulus."),
        "rt_ms": {
            "type": ["number", "null"], "exclusiveMinimum": 0, "maximum": RESPONSE_WINDOW_MS,
            "description": "The reaction time; null when there was no response, or the key was pressed early.",
            "x-messages": {
                "type": "Must be a number of ms, or null when there was no response.",
                "exclusiveMinimum": "{value:g} ms is not a reaction time (must be above 0).",
                "maximum": f"{{value:g}} ms is beyond the {RESPONSE_WINDOW_MS} ms response window: record no "
                "response as null.",
            },
        },  # fmt: skip
        "premature": {"type": "boolean", "description": "The key was pressed before the stimulus.",
                      "x-messages": {"type": "Must be true or false."}},  # fmt: skip
    },
    ["foreperiod_ms", "rt_ms"],
)
DIGIT_TRIAL = _object(
    {
        "presented": _digits(*DIGIT_PRESENTED_LENGTH),
        "response": _digits(0, DIGIT_RESPONSE_MAX),
        "response_ms": _milliseconds(0, 300_000, "Time taken to type the response."),
    },
    ["presented", "response"],
)
SETTING = {
    "type": ["string", "number", "boolean"], "maxLength": 100,
    "x-messages": {"*": "Must be a short text (up to 100 characters), a number or true/false."},
}  # fmt: skip

RESPONSES_SCHEMA: dict[str, Any] = _object(
    {
        "version": {"enum": [1], "description": "The responses format: 1.",
                    "x-messages": {"*": "Only version 1 of the responses format exists."}},  # fmt: skip
        "protocol": {
            "type": ["object", "null"], "maxProperties": PROTOCOL_MAX_KEYS, "additionalProperties": SETTING,
            "description": "How the battery was administered (recorded, not scored), e.g. {\"timing\": \"standard\"}.",
            "x-messages": {**OBJECT, "maxProperties": f"At most {PROTOCOL_MAX_KEYS} settings."},
        },  # fmt: skip
        "reaction_time": _object({"trials": _list(REACTION_TRIAL, *RT_TRIALS, "trials")}, ["trials"]),
        "digit_span": _object(
            {
                "forward": _list(DIGIT_TRIAL, *DIGIT_TRIALS, "trials"),
                "backward": {**_list(DIGIT_TRIAL, *DIGIT_TRIALS, "trials", nullable=True),
                             "description": "Correct when the response is the presented digits reversed."},
            },  # fmt: skip
            ["forward"],
        ),
        "word_recall": _object(
            {
                "list_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 20,
                            "x-messages": {"*": "Must be a short text (1-20 characters)."}},  # fmt: skip
                "words": {**_list(WORD, *LIST_LENGTH, "words"), "description": "The different words presented."},
                "immediate": {**_list(WORD, 0, RECALLED_MAX, "words", nullable=True),
                              "description": "Words recalled right after the presentation."},  # fmt: skip
                "delayed": {**_list(WORD, 0, RECALLED_MAX, "words"),
                            "description": "Words recalled after the delay (may be empty)."},  # fmt: skip
                "delay_ms": _milliseconds(0, MAX_DELAY_MS, "From the end of the presentation to the delayed recall."),
            },
            ["words", "delayed", "delay_ms"],
        ),
    },
    ["reaction_time", "digit_span", "word_recall"],
    "The raw responses of the cognitive battery; every score is computed from them by the server.",
)


def _finite_number(checker, instance) -> bool:
    # JSON true is not a number of milliseconds, and neither is NaN (which Python's JSON reader accepts).
    return isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)


def _integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({"number": _finite_number, "integer": _integer}),
)
_VALIDATOR = _Validator(RESPONSES_SCHEMA)


class CognitiveInputs(InputSchema):
    """The responses as the API documents them: ``json_schema`` is both what is published and what validates
    (``validate_responses``)."""

    json_schema = RESPONSES_SCHEMA
    example = {
        "version": 1,
        "protocol": {"timing": "standard"},
        "reaction_time": {"trials": [{"foreperiod_ms": 2000, "rt_ms": rt} for rt in (262, 281, None, 301, 275)]},
        "digit_span": {"forward": [{"presented": [5, 8, 2], "response": [5, 8, 2]}]},
        "word_recall": {"list_id": "A", "words": ["candle", "bucket", "ladder", "onion", "blanket"],
                        "immediate": ["candle", "onion"], "delayed": ["candle"], "delay_ms": 300000},
    }  # fmt: skip


def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _position(error) -> list[tuple]:
    return [(0, part, "") if isinstance(part, int) else (1, 0, part) for part in error.absolute_path]


def _schema_errors(inputs: dict) -> list[tuple[str, str]]:
    found = []
    for error in sorted(_VALIDATOR.iter_errors(inputs), key=_position):
        where = list(error.absolute_path)
        if error.validator == "required":
            found += [(_path([*where, name]), "This field is required.")
                      for name in error.validator_value if name not in error.instance]  # fmt: skip
        elif error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            found += [(_path([*where, name]), "Unknown field.") for name in sorted(set(error.instance) - known)]
        else:
            messages = error.schema.get("x-messages", {})
            template = messages.get(error.validator) or messages.get("*") or error.message
            size = len(error.instance) if isinstance(error.instance, (list, dict, str)) else None
            found.append((_path(where), template.format(value=error.instance, count=size)))
    return found


def _word_problem(word: str) -> str:
    text = " ".join(word.split())
    if not text:
        return "Must not be empty."
    if len(text) > WORD_MAX_CHARS:
        return f"Longer than {WORD_MAX_CHARS} characters."
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        return "Contains control characters."
    return ""


def normalize(text: str | None) -> str:
    """Case, accents, spaces and punctuation do not matter: 'Candle.' and ' candle' are the same answer."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalpha())


def _word_errors(recall: dict) -> list[tuple[str, str]]:
    found = []
    for name in ("words", "immediate", "delayed"):
        words = recall.get(name)
        if isinstance(words, list):
            found += [(f"word_recall.{name}[{i}]", _word_problem(w)) for i, w in enumerate(words) if isinstance(w, str)]
    presented = recall.get("words")
    if isinstance(presented, list) and all(isinstance(w, str) for w in presented):
        keys = [normalize(w) for w in presented if not _word_problem(w)]
        if any(not key for key in keys):
            found.append(("word_recall.words", "Every presented word must contain letters."))
        elif len(set(keys)) != len(keys):
            found.append(("word_recall.words", "The presented words must all be different."))
    return [(path, message) for path, message in found if message]


def _rule_errors(inputs: dict) -> list[tuple[str, str]]:
    """What the schema cannot say."""
    found = []
    reaction = inputs.get("reaction_time")
    trials = reaction.get("trials") if isinstance(reaction, dict) else None
    for index, trial in enumerate(trials if isinstance(trials, list) else []):
        if isinstance(trial, dict) and trial.get("premature") is True and trial.get("rt_ms") is not None:
            found.append((f"reaction_time.trials[{index}].rt_ms",
                          "Must be null when the key was pressed before the stimulus (premature)."))  # fmt: skip
    if isinstance(inputs.get("word_recall"), dict):
        found += _word_errors(inputs["word_recall"])
    protocol = inputs.get("protocol")
    if isinstance(protocol, dict) and any(len(key) > SETTING_NAME_MAX_CHARS for key in protocol):
        found.append(("protocol", f"Setting names are at most {SETTING_NAME_MAX_CHARS} characters."))
    return found


def validate_responses(inputs: Any) -> dict[str, Any]:
    """The raw responses, checked against ``RESPONSES_SCHEMA``, as stored (words with their spaces tidied, the
    optional parts that were given); raises InputError with every field error (up to 20) keyed by its path."""
    if not isinstance(inputs, dict) or not inputs:
        raise InputError({"inputs": "The cognitive battery needs its raw responses: an object with "
                                    "reaction_time, digit_span and word_recall."})  # fmt: skip
    errors: dict[str, str] = {}
    for path, message in _schema_errors(inputs) + _rule_errors(inputs):
        if len(errors) < MAX_ERRORS:
            errors.setdefault(path, message)
    if errors:
        raise InputError(errors)
    return _stored(inputs)


def _tidy(words: list[str]) -> list[str]:
    return [" ".join(word.split()) for word in words]


def _digit_trial(trial: dict) -> dict:
    stored = {"presented": list(trial["presented"]), "response": list(trial["response"])}
    if "response_ms" in trial:
        stored["response_ms"] = trial["response_ms"]
    return stored


def _stored(inputs: dict) -> dict[str, Any]:
    span, recall = inputs["digit_span"], inputs["word_recall"]
    stored: dict[str, Any] = {"version": 1}
    if inputs.get("protocol") is not None:
        stored["protocol"] = dict(inputs["protocol"])
    stored["reaction_time"] = {"trials": [
        {"foreperiod_ms": t["foreperiod_ms"], "rt_ms": t["rt_ms"], "premature": t.get("premature", False)}
        for t in inputs["reaction_time"]["trials"]
    ]}  # fmt: skip
    stored["digit_span"] = {"forward": [_digit_trial(t) for t in span["forward"]]}
    if span.get("backward") is not None:
        stored["digit_span"]["backward"] = [_digit_trial(t) for t in span["backward"]]
    stored["word_recall"] = {"words": _tidy(recall["words"]), "delayed": _tidy(recall["delayed"]),
                             "delay_ms": recall["delay_ms"]}  # fmt: skip
    if recall.get("immediate") is not None:
        stored["word_recall"]["immediate"] = _tidy(recall["immediate"])
    if recall.get("list_id") is not None:
        stored["word_recall"]["list_id"] = recall["list_id"]
    return stored
