"""The cognitive battery's biomarkers: unit, source and display precision, and no reference range.

Reference ranges: none. Published norms belong to other administrations (a spoken digit span, a reaction time
box, other word lists); a browser and keyboard add their own latency of tens of milliseconds (Anwyl-Irvine et
al., Behav Res Methods 2021;53:1407-1425). Every entry therefore says "no established reference range" and has
none, rather than borrowing a norm that does not apply.
"""

from __future__ import annotations

from ..base import BiomarkerSpec

METHOD_VERSION = "cognitive-battery-1.0"

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
