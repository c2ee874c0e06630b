"""The cognitive battery's scoring against hand-computed examples, and the strict schema of its raw
responses. No database: the analyzer is called directly with a fake context, as the pipeline calls it.

Tolerances: the scores are counts (exact) and medians/SDs of given numbers; the analyzer rounds reported
values to 0.1 ms or 0.1 %, so a reported value may differ from the hand-computed one by up to 0.05: the
tests allow 0.05 and no more.
"""

import copy
import json
import math
from contextlib import contextmanager

import pytest

from modalities import registry
from modalities.base import AnalysisContext, AnalysisError, InputError, PatientFacts
from modalities.cognitive import catalogue, scoring, synthetic
from modalities.cognitive import inputs as responses_schema
from modalities.cognitive.analyzer import CognitiveAnalyzer
from modalities.cognitive.protocol import WORD_LISTS

ROUNDING = 0.05  # reported values are rounded to one decimal
FACTS = PatientFacts(
    age=70, sex_at_birth="female", bmi=None, has_diabetes=False, treated_hypertension=False, current_smoker=False,
    on_statin=False, prior_cardiovascular_disease=False,
)


def analyze(inputs):
    """Validate as at submission, then analyze as the worker does; returns (result, stages entered)."""
    analyzer = CognitiveAnalyzer()
    resolved = analyzer.validate_inputs(inputs=copy.deepcopy(inputs), patient=FACTS)
    entered = []

    @contextmanager
    def stage(name):
        entered.append(name)
        yield

    result = analyzer.analyze(AnalysisContext(inputs=resolved, files=[], patient=FACTS, stage=stage))
    result.check(analyzer.modality.catalogue)
    return result, entered


def reasons_of(result) -> dict[str, str]:
    """What was not applicable, name -> reason."""
    return {item.name: item.reason for item in result.not_applicable}


def responses(**overrides):
    """A valid set of raw responses; keyword arguments replace whole sections."""
    base = {
        "version": 1,
        "reaction_time": {"trials": [{"foreperiod_ms": 2000, "rt_ms": rt} for rt in (250, 260, 270, 280, 290)]},
        "digit_span": {"forward": [{"presented": [1, 2, 3], "response": [1, 2, 3]}]},
        "word_recall": {"words": list(WORD_LISTS["A"]), "delayed": ["candle"], "delay_ms": 300_000},
    }
    base.update(overrides)
    return base


def errors_of(inputs) -> dict:
    with pytest.raises(InputError) as caught:
        CognitiveAnalyzer().validate_inputs(inputs=inputs, patient=FACTS)
    return caught.value.errors


# --- reaction time ------------------------------------------------------------------------------------
def test_reaction_time_median_sd_lapses_and_false_starts_by_hand():
    trials = [
        {"foreperiod_ms": 1500, "rt_ms": 250},
        {"foreperiod_ms": 1800, "rt_ms": 300},
        {"foreperiod_ms": 2100, "rt_ms": 280},
        {"foreperiod_ms": 2400, "rt_ms": 90},  # anticipation: a false start, not a reaction
        {"foreperiod_ms": 2700, "rt_ms": None, "premature": True},  # pressed before the circle: false start
        {"foreperiod_ms": 3000, "rt_ms": None},  # no press within the window: omission, counted as a lapse
        {"foreperiod_ms": 1600, "rt_ms": 520},  # >= 500 ms: a lapse, still a valid RT
        {"foreperiod_ms": 1900, "rt_ms": 310},
        {"foreperiod_ms": 2200, "rt_ms": 270},
    ]
    result, _ = analyze(responses(reaction_time={"trials": trials}))
    # Valid RTs (100 ms up to the window): 250 270 280 300 310 520 -> median (280 + 300) / 2 = 290.
    assert result.biomarkers["simple_rt_median"] == pytest.approx(290, abs=ROUNDING)
    # Mean 1930 / 6 = 321.667; squared deviations sum to 49483.33; sample SD = sqrt(49483.33 / 5) = 99.48.
    assert result.biomarkers["simple_rt_variability"] == pytest.approx(99.48, abs=ROUNDING)
    assert result.details["reaction_time_mean_ms"] == pytest.approx(321.7, abs=ROUNDING)
    assert result.biomarkers["simple_rt_lapses"] == 2  # 520 ms and the omission
    assert result.biomarkers["simple_rt_false_starts"] == 2  # 90 ms and the premature press
    assert result.details["reaction_time_valid_responses"] == 6
    assert result.details["reaction_time_omissions"] == 1
    assert result.details["reaction_time_anticipations"] == 1
    assert result.details["reaction_time_premature_presses"] == 1


def test_the_median_is_robust_to_one_slow_response_where_the_mean_is_not():
    # Whelan 2008's point: one 4 s response moves the mean by ~750 ms and the median not at all.
    fast = [{"foreperiod_ms": 2000, "rt_ms": rt} for rt in (240, 250, 260, 270, 280)]
    slow = fast[:-1] + [{"foreperiod_ms": 2000, "rt_ms": 4000}]
    fast_result, _ = analyze(responses(reaction_time={"trials": fast}))
    slow_result, _ = analyze(responses(reaction_time={"trials": slow}))
    assert fast_result.biomarkers["simple_rt_median"] == slow_result.biomarkers["simple_rt_median"] == 260
    mean_shift = slow_result.details["reaction_time_mean_ms"] - fast_result.details["reaction_time_mean_ms"]
    assert mean_shift == pytest.approx(744, abs=ROUNDING)  # (4000 - 280) / 5


def test_too_few_valid_responses_leave_the_median_out_with_the_reason():
    trials = [{"foreperiod_ms": 2000, "rt_ms": None}] * 6 + [{"foreperiod_ms": 2000, "rt_ms": 300}] * 4
    result, _ = analyze(responses(reaction_time={"trials": trials}))
    assert "simple_rt_median" not in result.biomarkers and "simple_rt_variability" not in result.biomarkers
    assert "only 4 of 10 trials" in reasons_of(result)["simple_rt_median"]
    assert result.biomarkers["simple_rt_lapses"] == 6
    # 6 of 10 trials are lapses (>= 25 %): a marked processing-speed finding.
    assert result.details["marked_processing_speed"] is True


# --- digit span ---------------------------------------------------------------------------------------
def test_digit_span_is_the_longest_length_with_a_correct_trial():
    forward = [
        {"presented": [5, 8, 2], "response": [5, 8, 2]},  # correct
        {"presented": [6, 9, 4], "response": [6, 4, 9]},  # order wrong
        {"presented": [6, 4, 3, 9], "response": [6, 4, 3]},  # one digit missing
        {"presented": [7, 2, 8, 6], "response": [7, 2, 8, 6]},  # correct: the span reaches 4
        {"presented": [4, 2, 7, 3, 1], "response": [4, 2, 7, 1, 3]},
        {"presented": [7, 5, 8, 3, 6], "response": []},  # both trials of 5 wrong: the test stops
    ]
    backward = [
        {"presented": [2, 4], "response": [4, 2]},  # reversed: correct
        {"presented": [6, 2, 9], "response": [9, 2, 6]},  # correct: backward span 3
        {"presented": [3, 2, 7, 9], "response": [3, 2, 7, 9]},  # forward order is wrong for backward span
        {"presented": [4, 9, 6, 8], "response": [8, 6, 9]},
    ]
    result, _ = analyze(responses(digit_span={"forward": forward, "backward": backward}))
    assert result.biomarkers["digit_span_forward"] == 4
    assert result.details["digit_span_forward_trials_correct"] == 2
    assert result.biomarkers["digit_span_backward"] == 3
    assert result.details["digit_span_backward_trials_correct"] == 2


def test_no_correct_trial_is_a_span_of_zero_and_backward_is_optional():
    forward = [{"presented": [1, 2, 3], "response": [3, 2, 1]}, {"presented": [4, 5, 6], "response": []}]
    result, _ = analyze(responses(digit_span={"forward": forward}))
    assert result.biomarkers["digit_span_forward"] == 0
    assert "digit_span_backward" not in result.biomarkers
    assert reasons_of(result)["digit_span_backward"] == "backward digit span was not administered"


# --- word recall --------------------------------------------------------------------------------------
def test_recall_counts_each_list_word_once_and_intrusions_by_hand():
    # List A: candle bucket ladder onion blanket rabbit hammer wagon button kettle
    delayed = ["Candle", "ladders", "kettel", "hammer", "candle", "dog", "tabel", "  Onion. "]
    result, _ = analyze(responses(word_recall={
        "words": list(WORD_LISTS["A"]), "immediate": ["candle", "bucket", "ladder", "onion", "rabbit", "hammer"],
        "delayed": delayed, "delay_ms": 300_000,
    }))
    # candle, ladder (plural), kettle (two letters swapped), hammer, onion (case, spaces, full stop) = 5 of 10;
    # "candle" again is a repetition; "dog" and "tabel" are not list words: 2 intrusions.
    assert result.biomarkers["delayed_recall"] == pytest.approx(50.0, abs=ROUNDING)
    assert result.details["delayed_recall_words"] == 5
    assert result.biomarkers["delayed_recall_intrusions"] == 2
    assert result.details["delayed_recall_repetitions"] == 1
    assert result.biomarkers["immediate_recall"] == pytest.approx(60.0, abs=ROUNDING)
    # Retention: 5 delayed of 6 immediate = 83.3 %.
    assert result.details["retention_percent"] == pytest.approx(83.3, abs=ROUNDING)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("candle", "candle"),
        ("CANDLE", "candle"),
        ("candles", "candle"),
        ("candel", "candle"),  # swap
        ("candl", "candle"),  # one letter missing
        ("cantle", "candle"),  # one letter wrong
        ("cndl", None),  # two slips: not recognisably the word
        ("goat", None),  # not on list A
        ("rabit", "rabbit"),
        ("wagons", "wagon"),
    ],
)
def test_a_recalled_word_matches_allowing_one_typing_slip(answer, expected):
    assert scoring.match_word(answer, list(WORD_LISTS["A"])) == expected


def test_short_words_need_an_exact_match():
    # "goat" (4 letters) with one slip could be another real word ("boat", "coat"): not accepted.
    assert scoring.match_word("gaot", list(WORD_LISTS["C"])) is None
    assert scoring.match_word("goats", list(WORD_LISTS["C"])) == "goat"


# --- the risk rule ------------------------------------------------------------------------------------
def _case(*, lapses: int, span: int, delayed_words: int, false_starts: int = 0):
    trials = ([{"foreperiod_ms": 2000, "rt_ms": 600}] * lapses
              + [{"foreperiod_ms": 2000, "rt_ms": 50}] * false_starts
              + [{"foreperiod_ms": 2000, "rt_ms": 300}] * (20 - lapses - false_starts))
    forward = [{"presented": list(range(1, n + 1)), "response": list(range(1, n + 1))} for n in range(3, span + 1)]
    forward += [{"presented": list(range(1, span + 2)), "response": []}] * 2
    words = list(WORD_LISTS["B"])
    return responses(
        reaction_time={"trials": trials},
        digit_span={"forward": forward},
        word_recall={"words": words, "delayed": words[:delayed_words], "delay_ms": 300_000},
    )


@pytest.mark.parametrize(
    ("case", "level", "marked"),
    [
        (dict(lapses=0, span=6, delayed_words=6), "low", []),
        # At each threshold exactly: 2 of 10 words (20 %), span 4, 5 of 20 lapses (25 %).
        (dict(lapses=0, span=6, delayed_words=2), "borderline", ["memory"]),
        (dict(lapses=0, span=4, delayed_words=6), "borderline", ["attention_span"]),
        (dict(lapses=5, span=6, delayed_words=6), "borderline", ["processing_speed"]),
        # Just inside: 3 words, span 5, 4 lapses: no finding.
        (dict(lapses=4, span=5, delayed_words=3), "low", []),
        (dict(lapses=5, span=4, delayed_words=6), "intermediate", ["attention_span", "processing_speed"]),
        # All three marked: still "intermediate", never "high" (a brief unnormed screen).
        (dict(lapses=10, span=3, delayed_words=0), "intermediate", ["memory", "attention_span", "processing_speed"]),
    ],
)
def test_risk_level_counts_marked_domains_and_never_says_high(case, level, marked):
    result, _ = analyze(_case(**case))
    assert result.risk_level == level
    flagged = [name for name in ("memory", "attention_span", "processing_speed") if result.details[f"marked_{name}"]]
    assert flagged == marked
    assert result.risk_score is None, "no validated composite: no number is invented"
    assert result.confidence is None
    assert result.recommendations and all(item["source"] for item in result.recommendations)


def test_many_false_starts_make_reaction_time_uninterpretable_not_abnormal():
    result, _ = analyze(_case(lapses=6, span=6, delayed_words=6, false_starts=5))  # 5 of 20 = 25 % false starts
    assert result.details["marked_processing_speed"] is None
    assert result.risk_level == "low"
    assert "not interpretable" in " ".join(result.notes)
    assert "Reaction time not interpretable (too many false starts): repeat that task." in result.explanation_summary
    assert any("sleepiness" in item["text"] for item in result.recommendations)
    # Beside a marked finding elsewhere, the summary still asks for the repeat.
    marked, _ = analyze(_case(lapses=6, span=6, delayed_words=1, false_starts=5))
    assert "repeat that task" in marked.explanation_summary and "Marked finding: " in marked.explanation_summary


# --- the analyzer as the pipeline runs it -------------------------------------------------------------
def test_every_stage_is_entered_in_order_and_only_catalogue_biomarkers_are_reported():
    result, entered = analyze(synthetic.normal_case())
    assert entered == [stage.name for stage in CognitiveAnalyzer.modality.stages]
    assert set(result.biomarkers) <= set(CognitiveAnalyzer.modality.catalogue)
    assert result.method_version == catalogue.METHOD_VERSION


def test_the_catalogue_names_a_source_and_no_borrowed_reference_range():
    for spec in CognitiveAnalyzer.modality.catalogue.values():
        assert spec.unit and spec.source
        assert "no established reference range" in spec.source.lower()
        assert spec.reference_low is spec.reference_high is spec.critical_low is spec.critical_high is None


@pytest.mark.parametrize(
    ("case", "level", "checks"),
    [
        (synthetic.normal_case, "low", {"digit_span_forward": 7, "digit_span_backward": 5, "delayed_recall": 70}),
        (synthetic.slowed_case, "borderline", {"simple_rt_lapses": 12, "digit_span_forward": 5}),
        (synthetic.poor_recall_case, "borderline", {"delayed_recall": 10, "delayed_recall_intrusions": 2}),
    ],
)
def test_demo_cases_are_valid_and_score_as_described(case, level, checks):
    result, _ = analyze(case())
    assert result.risk_level == level
    for name, value in checks.items():
        assert result.biomarkers[name] == pytest.approx(value, abs=ROUNDING)


def test_demo_cases_survive_a_json_round_trip():
    for demo in registry.demo_cases("cognitive"):
        assert json.loads(json.dumps(demo.inputs)) == demo.inputs
        assert demo.files == []


def test_stored_inputs_that_no_longer_validate_fail_with_a_readable_reason():
    analyzer = CognitiveAnalyzer()
    context = AnalysisContext(inputs={"reaction_time": {}}, files=[], patient=FACTS, stage=lambda name: _null())
    with pytest.raises(AnalysisError, match="stored responses are not usable"):
        analyzer.analyze(context)


@contextmanager
def _null():
    yield


def test_a_short_delay_and_non_standard_timing_are_noted():
    case = synthetic.normal_case()
    case["word_recall"]["delay_ms"] = 12_000
    case["protocol"]["timing"] = "fast"
    result, _ = analyze(case)
    notes = " ".join(result.notes)
    assert "12 s" in notes and "'fast' timings" in notes


# --- the schema ---------------------------------------------------------------------------------------
def _with(path: str, value, base=None):
    """A copy of valid responses with one value replaced (path like 'reaction_time.trials.2.rt_ms')."""
    data = copy.deepcopy(base or responses(digit_span={"forward": [{"presented": [1, 2, 3], "response": [1, 2, 3]}],
                                                       "backward": [{"presented": [1, 2], "response": [2, 1]}]}))
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("reaction_time.trials.2.rt_ms", 6000, "reaction_time.trials[2].rt_ms", "beyond the 5000 ms response window"),
        ("reaction_time.trials.2.rt_ms", -5, "reaction_time.trials[2].rt_ms", "must be above 0"),
        ("reaction_time.trials.2.rt_ms", 0, "reaction_time.trials[2].rt_ms", "must be above 0"),
        ("reaction_time.trials.2.rt_ms", "fast", "reaction_time.trials[2].rt_ms", "Must be a number of ms"),
        ("reaction_time.trials.2.rt_ms", True, "reaction_time.trials[2].rt_ms", "Must be a number of ms"),
        ("reaction_time.trials.2.rt_ms", math.nan, "reaction_time.trials[2].rt_ms", "Must be a number of ms"),
        ("reaction_time.trials.2.rt_ms", _DELETE, "reaction_time.trials[2].rt_ms", "required"),
        ("reaction_time.trials.1.foreperiod_ms", 50, "reaction_time.trials[1].foreperiod_ms", "not plausible"),
        ("reaction_time.trials.1.premature", "yes", "reaction_time.trials[1].premature", "true or false"),
        ("reaction_time.trials.1.colour", "red", "reaction_time.trials[1].colour", "Unknown field"),
        ("reaction_time.trials", [{"foreperiod_ms": 2000, "rt_ms": 300}] * 3, "reaction_time.trials",
         "5 to 100 trials (3 given)"),
        ("reaction_time.trials", "many", "reaction_time.trials", "list of trials"),
        ("reaction_time", _DELETE, "reaction_time", "required"),
        ("digit_span.forward.0", {"presented": ["1", "2"], "response": [1, 2]}, "digit_span.forward[0].presented[0]",
         "digit 0-9"),
        ("digit_span.forward.0", {"presented": [1, 12, 3], "response": [1]}, "digit_span.forward[0].presented[1]",
         "digit 0-9"),
        ("digit_span.forward.0", {"presented": [1], "response": [1]}, "digit_span.forward[0].presented", "2 to 12"),
        ("digit_span.forward.0", {"presented": [1, 2, 3], "response": "123"}, "digit_span.forward[0].response",
         "list of digits"),
        ("digit_span.backward.0", {"presented": [1, 2]}, "digit_span.backward[0].response", "required"),
        ("digit_span.forward", [], "digit_span.forward", "1 to 40 trials (0 given)"),
        ("digit_span.sideways", [], "digit_span.sideways", "Unknown field"),
        ("word_recall.words", ["cat", "dog", "cat", "sun", "cup"], "word_recall.words", "all be different"),
        ("word_recall.words", ["cat", "dog", "sun"], "word_recall.words", "5 to 30 words (3 given)"),
        ("word_recall.words", ["cat", "dog", "sun", "cup", "  "], "word_recall.words[4]", "Must not be empty"),
        ("word_recall.delayed", ["x" * 41], "word_recall.delayed[0]", "Longer than 40"),
        ("word_recall.delayed", ["ca\x00t"], "word_recall.delayed[0]", "control characters"),
        ("word_recall.delayed", [7], "word_recall.delayed[0]", "Must be a word"),
        ("word_recall.delayed", _DELETE, "word_recall.delayed", "required"),
        ("word_recall.delay_ms", -1, "word_recall.delay_ms", "not plausible"),
        ("word_recall.delay_ms", 3 * 60 * 60 * 1000, "word_recall.delay_ms", "not plausible"),
        ("version", 2, "version", "version 1"),
        ("extra", {}, "extra", "Unknown field"),
        ("protocol", {"timing": {"nested": True}}, "protocol.timing", "short text"),
    ],
)
def test_bad_responses_name_the_field_and_the_problem(path, value, field, message):
    errors = errors_of(_with(path, value))
    assert field in errors, errors
    assert message.lower() in errors[field].lower(), errors[field]


@pytest.mark.parametrize("inputs", [{}, [], "responses", None])
def test_no_responses_at_all_is_one_clear_error(inputs):
    errors = errors_of(inputs)
    assert list(errors) == ["inputs"] and "raw responses" in errors["inputs"]


def test_premature_press_with_a_reaction_time_is_contradictory():
    data = _with("reaction_time.trials.0", {"foreperiod_ms": 2000, "rt_ms": 120, "premature": True})
    assert "premature" in errors_of(data)["reaction_time.trials[0].rt_ms"]


def test_anticipations_are_accepted_and_flagged_not_refused():
    data = _with("reaction_time.trials.0", {"foreperiod_ms": 2000, "rt_ms": 42})
    result, _ = analyze(data)
    assert result.biomarkers["simple_rt_false_starts"] == 1


def test_errors_are_capped_so_a_garbage_payload_gets_a_readable_answer():
    trials = [{"foreperiod_ms": -1, "rt_ms": -1}] * 100
    errors = errors_of(responses(reaction_time={"trials": trials}))
    assert len(errors) == responses_schema.MAX_ERRORS


def test_validation_returns_json_safe_inputs_that_validate_again():
    analyzer = CognitiveAnalyzer()
    resolved = analyzer.validate_inputs(inputs=synthetic.slowed_case(), patient=FACTS)
    assert json.loads(json.dumps(resolved)) == resolved
    assert analyzer.validate_inputs(inputs=resolved, patient=FACTS) == resolved


def test_word_lists_are_our_own_concrete_nouns():
    lists = list(WORD_LISTS.values())
    assert all(len(words) == 10 and len(set(words)) == 10 for words in lists)
    # No word is shared between lists, so a retest with the next list presents new words.
    assert len({word for words in lists for word in words}) == 30


def test_the_result_is_typed_with_no_score_and_says_why():
    result, _ = analyze(_case(lapses=0, span=6, delayed_words=2))
    assert result.score is None and "no validated composite" in result.score_withheld.lower()
    document = result.document()
    assert document["score"] is None and document["score_withheld"] == result.score_withheld
    assert {item.name for item in result.not_applicable} == {
        "digit_span_backward", "immediate_recall", "retention_percent",
    }
    assert any("MediLens's own" in note and "never high" in note for note in result.notes)
    shown = {m.name: (m.value, m.unit) for m in result.measurements}
    assert shown["delayed_recall_words"] == (2, "words") and shown["reaction_time_trials"] == (20, "trials")
    assert "retention_percent" not in shown  # no immediate recall: not applicable, not shown as a number
    assert result.contributions == [] and result.risk_level == "borderline"
    for name, value in result.biomarkers.items():
        assert value == round(value, CognitiveAnalyzer.modality.catalogue[name].decimals), name
    assert {spec.decimals for spec in CognitiveAnalyzer.modality.catalogue.values()} == {0, 1}
