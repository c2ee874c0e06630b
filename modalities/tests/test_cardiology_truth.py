"""The ECG analyzer on hard inputs whose truth is known from how they were made (``cardiology_signals``: Gaussian
P, QRS and T waves at set times, written independently of ``cardiology.synthetic``): heart rate from 40 to 250
bpm, one premature beat, white noise of 0.15-0.3 mV, P waves inside T waves, complete heart block; and the
typed result (headline points, contributions, withheld intervals, women's QTc limits)."""

from __future__ import annotations

import contextlib
import io

import magic
import numpy as np
import pytest

from modalities import registry
from modalities.base import AnalysisContext, AnalysisError, InputFile, PatientFacts

from . import cardiology_signals as signals

INTERVALS = ("pr_interval", "qrs_duration", "qt_interval")


def facts(sex: str = "male") -> PatientFacts:
    return PatientFacts(
        age=60,
        sex_at_birth=sex,
        bmi=None,
        has_diabetes=False,
        treated_hypertension=False,
        current_smoker=False,
        on_statin=False,
        prior_cardiovascular_disease=False,
    )


def analyze(trace: signals.Trace, *, sex: str = "male"):
    name, data = signals.csv_file(trace.samples())
    opener = lambda: contextlib.nullcontext(io.BytesIO(data))  # noqa: E731
    files = [InputFile(name, magic.from_buffer(data[:8192], mime=True), len(data), opener)]
    analyzer = registry.get("cardiology")
    result = analyzer.analyze(
        AnalysisContext(inputs={}, files=files, patient=facts(sex), stage=lambda _: contextlib.nullcontext())
    )
    result.check(analyzer.modality.catalogue)
    return result


def findings(result) -> set[str]:
    return {finding["finding"] for finding in result.details["findings"]}


def withheld(result) -> dict[str, str]:
    return {item.name: item.reason for item in result.not_applicable}


def measurement(result, name):
    return next(item.value for item in result.measurements if item.name == name)


def noisy(trace: signals.Trace, noise_mv: float, seed: int) -> signals.Trace:
    trace.noise_mv, trace.seed = noise_mv, seed
    return trace


# --- heart rate ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [45, 72, 120, 160, 220, 240])
def test_heart_rate_within_2_bpm_up_to_160_and_3_bpm_above(rate):
    # Above 200 bpm the tachycardia is supraventricular with its P waves hidden in the QRS (as in AV nodal
    # re-entry), so those traces have none.
    trace = signals.sinus(rate, p_wave=rate < 200)
    result = analyze(trace)
    truth = signals.heart_rate_of(trace)
    assert result.biomarkers["heart_rate"] == pytest.approx(truth, abs=2 if truth <= 160 else 3)
    assert result.details["beats"] == len(trace.r_times)
    assert measurement(result, "spectral_heart_rate") == pytest.approx(truth, rel=0.02)
    assert "irregular_rr" not in findings(result)
    if rate >= 150:  # a tachyarrhythmia is flagged, not read at half its rate
        assert "tachycardia_marked" in findings(result) and result.risk_level == "intermediate"


def test_a_beat_count_that_disagrees_with_the_spectral_rate_is_refused():
    from modalities.cardiology import detect, rhythm

    trace = signals.sinus(220, p_wave=False)
    cleaned, _ = detect.clean(trace.samples(), signals.RATE)
    halved = rhythm.analyse([2 * 60_000 / 220] * 15)  # every other beat counted: 110 bpm, regular
    with pytest.raises(AnalysisError) as caught:
        rhythm.cross_check(halved, cleaned, signals.RATE, "II")
    assert "110 bpm" in caught.value.reason and "220 bpm" in caught.value.reason
    counted = rhythm.analyse(list(np.diff(trace.r_times) * 1000))
    rhythm.cross_check(counted, cleaned, signals.RATE, "II")  # agrees: no refusal
    assert counted.spectral_rate == pytest.approx(220, rel=0.01)


def test_an_irregular_rhythm_is_not_cross_checked():
    from modalities.cardiology import rhythm

    irregular = rhythm.analyse([600, 900, 700, 1000, 650, 950, 720, 880])
    assert irregular.irregular is True
    rhythm.cross_check(irregular, np.zeros(5000), signals.RATE, "II")  # a flat line would disagree with anything
    assert irregular.spectral_rate is None


# --- premature beats -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate, index", [(72, 5), (60, 4), (90, 7)])
def test_one_premature_beat_in_sinus_rhythm_is_an_ectopic_beat_not_af(rate, index):
    trace = signals.with_premature_beat(rate, index=index)
    result = analyze(trace)
    assert measurement(result, "ectopic_beats") == 1
    assert result.details["ectopic_beats"] == [index + 1]
    assert any("premature (ectopic) beat" in note for note in result.notes)
    assert "irregular_rr" not in findings(result)
    assert result.details["rhythm_flags"]["irregular_rr_suggesting_af"] is False
    assert result.biomarkers["rr_irregularity"] < 0.1
    assert result.risk_level in ("low", "borderline") and result.risk_level != "intermediate"
    assert result.biomarkers["heart_rate"] == pytest.approx(signals.heart_rate_of(trace), abs=2)


# --- noise ---------------------------------------------------------------------------------------------------
def _noise_cases():
    cases = [(f"sinus {rate}", lambda rate=rate: signals.sinus(rate, p_wave=rate < 200)) for rate in (45, 72, 120, 160)]
    cases += [(f"svt {rate}", lambda rate=rate: signals.sinus(rate, p_wave=False)) for rate in (220, 240)]
    cases += [
        ("premature beat", lambda: signals.with_premature_beat(72)),
        ("heart block", signals.complete_heart_block),
    ]
    return cases


@pytest.mark.parametrize("label, make", _noise_cases(), ids=[label for label, _ in _noise_cases()])
def test_white_noise_never_adds_a_finding_the_clean_trace_lacks(label, make):
    clean = analyze(make())
    for noise_mv, seed in ((0.15, 1), (0.2, 2), (0.3, 3)):
        result = analyze(noisy(make(), noise_mv, seed))
        assert findings(result) <= findings(clean), (label, noise_mv, findings(result) - findings(clean))
        assert result.biomarkers["heart_rate"] == pytest.approx(clean.biomarkers["heart_rate"], abs=2)
        # At this noise the intervals are withheld, each with a reason, rather than misplaced.
        reasons = withheld(result)
        assert all(name in reasons and name not in result.biomarkers for name in INTERVALS), (label, noise_mv)


def test_noise_withholds_intervals_with_a_reason_that_names_the_noise():
    reasons = withheld(analyze(noisy(signals.sinus(72), 0.2, 7)))
    assert "too noisy" in reasons["qrs_duration"] and "MediLens's own limit" in reasons["qrs_duration"]
    assert "too noisy" in reasons["pr_interval"] and "too noisy" in reasons["qt_interval"]


def test_a_clean_trace_has_its_intervals_measured():
    result = analyze(signals.sinus(72))
    assert all(name in result.biomarkers for name in INTERVALS)
    # The generator's PR (P onset to QRS onset) is 160 ms; its Gaussian QRS is about 90 ms wide at 5% slope.
    assert result.biomarkers["pr_interval"] == pytest.approx(160, abs=15)
    assert result.biomarkers["qrs_duration"] < 110 and findings(result) == set()


# --- P waves inside T waves, AV dissociation -----------------------------------------------------------------
def test_at_160_bpm_the_p_wave_inside_the_t_wave_withholds_pr():
    trace = signals.sinus(160)
    # Truth: the T wave ends QT = 400 ms x sqrt(RR) after QRS onset, later than the next P wave starts.
    rr = 60 / 160
    t_end_after_r = -trace.qrs / 2 + 0.4 * np.sqrt(rr)
    next_p_onset_after_r = rr - trace.qrs / 2 - trace.pr
    assert next_p_onset_after_r < t_end_after_r
    result = analyze(trace)
    assert "pr_interval" not in result.biomarkers
    assert "T wave" in withheld(result)["pr_interval"]
    assert not findings(result) & {"pr_short", "pr_long"}


def test_complete_heart_block_reports_the_ventricular_rate_and_no_af():
    trace = signals.complete_heart_block(ventricular_rate=33, atrial_rate=75)
    result = analyze(trace)
    assert result.biomarkers["heart_rate"] == pytest.approx(33, abs=2)
    assert "irregular_rr" not in findings(result)
    assert result.details["rhythm_flags"]["irregular_rr_suggesting_af"] is not True
    assert "bradycardia" in findings(result)
    assert "pr_interval" not in result.biomarkers and "no P wave locked" in withheld(result)["pr_interval"]


# --- typed result --------------------------------------------------------------------------------------------
def test_the_headline_is_the_triage_points_with_a_scale_that_says_so():
    result = analyze(signals.sinus(45))  # bradycardia: 1 point
    scale = result.score.scale
    assert (scale.key, scale.label, scale.unit) == ("ecg_triage_points", "ECG triage points (MediLens rule)", "points")
    assert scale.own_rule and (scale.minimum, scale.maximum) == (0, 14) and scale.decimals == 0
    assert [scale.bands.level(points) for points in (0, 1, 2, 3, 4, 5, 14)] == [
        "low",
        "borderline",
        "borderline",
        "intermediate",
        "intermediate",
        "high",
        "high",
    ]
    assert result.score.value == 1 and result.risk_score == 1 and result.risk_level == "borderline"
    [contribution] = result.contributions
    assert (contribution.factor, contribution.change, contribution.current_unit) == ("bradycardia", 1.0, "bpm")
    assert contribution.current == pytest.approx(45, abs=2) and contribution.source
    assert result.contributions_json()[0]["change"] == 1
    assert {item.name for item in result.measurements} >= {"duration", "beats", "ectopic_beats"}
    assert isinstance(result.details["rr_intervals_ms"], list)


def test_every_catalogue_entry_states_its_precision_and_values_are_stored_at_it():
    from modalities.cardiology import catalogue

    assert {spec.decimals for spec in catalogue.CATALOGUE.values()} <= {0, 1, 2, 3}
    result = analyze(signals.sinus(72))
    for name, value in result.biomarkers.items():
        assert value == round(value, catalogue.CATALOGUE[name].decimals), name


@pytest.mark.parametrize("qtc", [449, 450, 455, 459, 460, 465, 480, 481])
def test_womens_qtc_flag_matches_the_rule(qtc):
    from modalities.cardiology import catalogue, interpret

    for sex in ("female", "male", "unknown"):
        specs = {**catalogue.CATALOGUE, **catalogue.spec_overrides(sex)}
        flag = specs["qtc_fridericia"].flag(qtc)
        points = sum(
            f["points"]
            for f in interpret.findings(
                heart_rate=70, nrmssd=None, rr_count=10, pr=None, qrs=None, qtc_fridericia=qtc, sex=sex
            )
        )
        assert (flag == "normal") == (points == 0), (sex, qtc, flag, points)
        assert specs["qtc_bazett"].flag(qtc) == flag


def test_a_womans_result_carries_the_460_ms_limit():
    result = analyze(signals.sinus(72), sex="female")
    assert result.spec_overrides["qtc_fridericia"].reference_high == 460
    assert analyze(signals.sinus(72), sex="male").spec_overrides == {}
