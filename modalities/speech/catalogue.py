"""What the speech analysis reports: its biomarkers, their units, display precision, norms and sources.

Norms (sustained vowel only):

* jitter (local) <= 1.04 % and shimmer (local) <= 3.81 %: the MDVP thresholds for pathology that the Praat
  manual quotes ('Voice 2. Jitter': "MDVP calls this parameter Jitt, and gives 1.040% as a threshold for
  pathology"; 'Voice 3. Shimmer': "Shim ... 3.810%").
* HNR >= 20 dB: the Praat manual's 'Harmonicity' page ("a healthy speaker can produce a sustained [a] or [i]
  with a harmonicity of around 20 dB ... Hoarse speakers will have an [a] with a harmonicity much lower than
  20 dB"). Using 20 dB as a lower limit is MediLens's screening convention, not one normative study.

Jitter, shimmer and HNR of connected speech are reported under their own names, without reference ranges: the
sustained-vowel norms do not apply to them.
"""

from __future__ import annotations

from ..base import BiomarkerSpec

METHOD_VERSION = (
    "speech 2.0 (Praat 6.1.38 via parselmouth; HNR by cross-correlation harmonicity at the recording's own "
    "sampling rate; de Jong & Wempe 2009 syllable nuclei)"
)

JITTER_MAX_PERCENT = 1.04
SHIMMER_MAX_PERCENT = 3.81
HNR_MIN_DB = 20.0

# Typical adult speaking F0 (Baken RJ, Clinical Measurement of Speech and Voice, 1987; 2nd ed. with Orlikoff
# RF, 2000): shown beside the F0 result for the patient's sex, not a catalogue range (one range cannot serve
# both sexes).
F0_RANGES = {"male": (85.0, 180.0), "female": (165.0, 255.0)}
F0_SOURCE = "Baken RJ, Clinical Measurement of Speech and Voice (1987; 2nd ed. Baken & Orlikoff 2000)"

TASKS = {
    "sustained_vowel": "Sustained vowel (/a/ held 3-5 s)",
    "connected_speech": "Connected speech (reading or conversation)",
}
DEFAULT_TASK = "connected_speech"

PRAAT = "Boersma & Weenink, Praat 6.1.38 (via parselmouth, Jadoul et al. J Phonetics 2018;71:1)"
PRAAT_PITCH = f"{PRAAT}: To Pitch (ac), 75-600 Hz (Boersma 1993, Proc Inst Phonetic Sci Amsterdam 17:97)"
PRAAT_JITTER = (
    f"{PRAAT}: PointProcess Get jitter (local), voice-report settings; norm <= 1.04 % = MDVP Jitt threshold "
    "quoted in the Praat manual 'Voice 2. Jitter' (sustained /a/)"
)
PRAAT_SHIMMER = (
    f"{PRAAT}: Get shimmer (local), voice-report settings; norm <= 3.81 % = MDVP Shim threshold quoted in the "
    "Praat manual 'Voice 3. Shimmer' (sustained /a/)"
)
HARMONICITY_METHOD = (
    "To Harmonicity (cc) with Praat's standard settings (time step 0.01 s, minimum pitch 75 Hz, silence "
    "threshold 0.1, 1 period per window) at the recording's own sampling rate, mean over the voiced frames "
    "(beyond 6 s of voice, over about 500 of them evenly spaced)"
)
PRAAT_HNR = (
    f"{PRAAT}: {HARMONICITY_METHOD}; >= 20 dB: MediLens's screening limit, after the Praat manual 'Harmonicity' "
    "(a healthy sustained [a] around 20 dB, hoarse voices much lower)"
)
CONNECTED = "no accepted norm for connected speech: shown for trend"
DE_JONG = "de Jong & Wempe, Behav Res Methods 2009;41:385 (Praat Syllable Nuclei v2)"

# Display precision: Praat's own voice report prints jitter and shimmer in percent to 3 decimals; F0 to 0.1 Hz
# and HNR to 0.1 dB are finer than either is reproducible between recordings.
CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "f0_mean", "Mean F0", "voice_pitch", "Hz", f"{PRAAT_PITCH}; sex-specific range in results", decimals=1
        ),
        BiomarkerSpec(
            "f0_sd", "F0 variability (SD)", "voice_pitch", "Hz", f"{PRAAT_PITCH}; no single norm", decimals=1
        ),
        BiomarkerSpec(
            "f0_semitone_sd",
            "F0 variability (SD, semitone scale)",
            "voice_pitch",
            "semitones",
            f"{PRAAT_PITCH}; monopitch measure as in Rusz et al., J Acoust Soc Am 2011;129:350; no single norm",
            decimals=2,
        ),
        BiomarkerSpec(
            "jitter_local",
            "Jitter (local), sustained vowel",
            "voice_quality",
            "%",
            PRAAT_JITTER,
            reference_high=JITTER_MAX_PERCENT,
            decimals=3,
        ),
        BiomarkerSpec(
            "shimmer_local",
            "Shimmer (local), sustained vowel",
            "voice_quality",
            "%",
            PRAAT_SHIMMER,
            reference_high=SHIMMER_MAX_PERCENT,
            decimals=3,
        ),
        BiomarkerSpec(
            "hnr",
            "Harmonics-to-noise ratio, sustained vowel",
            "voice_quality",
            "dB",
            PRAAT_HNR,
            reference_low=HNR_MIN_DB,
            decimals=1,
        ),
        BiomarkerSpec(
            "jitter_local_connected",
            "Jitter (local), connected speech",
            "voice_quality",
            "%",
            f"{PRAAT}: Get jitter (local); {CONNECTED}",
            decimals=3,
        ),
        BiomarkerSpec(
            "shimmer_local_connected",
            "Shimmer (local), connected speech",
            "voice_quality",
            "%",
            f"{PRAAT}: Get shimmer (local); {CONNECTED}",
            decimals=3,
        ),
        BiomarkerSpec(
            "hnr_connected",
            "Harmonics-to-noise ratio, connected speech",
            "voice_quality",
            "dB",
            f"{PRAAT}: {HARMONICITY_METHOD}; {CONNECTED}",
            decimals=1,
        ),
        BiomarkerSpec(
            "voiced_fraction",
            "Voiced fraction of speaking time",
            "voice_quality",
            "%",
            f"{PRAAT}: voiced pitch frames in the sounding part (complement of 'fraction of unvoiced frames', "
            "Praat manual 'Voice 1'); norm depends on the task",
            decimals=1,
        ),
        BiomarkerSpec(
            "pause_rate",
            "Pause rate",
            "fluency",
            "pauses/min",
            f"{DE_JONG}: silences >= 0.3 s, 25 dB below the 0.99 intensity quantile; no single norm",
            decimals=1,
        ),
        BiomarkerSpec(
            "speaking_rate",
            "Speaking rate",
            "fluency",
            "syllables/s",
            f"{DE_JONG}: syllable nuclei per second of recording; no single norm",
            decimals=2,
        ),
        BiomarkerSpec(
            "articulation_rate",
            "Articulation rate",
            "fluency",
            "syllables/s",
            f"{DE_JONG}: syllable nuclei per second of speaking time (pauses excluded); no single norm",
            decimals=2,
        ),
    ]
}

DYSPHONIA_GUIDELINE = (
    "Stachler et al., Clinical Practice Guideline: Hoarseness (Dysphonia) (Update), "
    "Otolaryngol Head Neck Surg 2018;158(1 suppl):S1-S42"
)
PROTOCOL = (
    "Patel et al., Recommended protocols for instrumental assessment of voice, Am J Speech Lang Pathol 2018;27:887"
)
REFER_TEXT = (
    "Acoustic voice measures beyond norms support, but do not establish, dysphonia: assess the voice perceptually "
    "and examine the larynx (laryngoscopy) if hoarseness persists beyond 4 weeks or a serious cause is suspected."
)
