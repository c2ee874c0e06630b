"""The cognitive modality: a short battery done in the browser, scored from its raw responses.

The package: ``protocol`` (the stimuli: word lists, digit sequences, timings), ``inputs`` (the raw responses'
JSON Schema and its validation), ``scoring`` (reaction time, digit span, word recall), ``rule`` (the screening
rule), ``explain`` (the result's text), ``catalogue``, ``synthetic`` (generated responses for the demo and the
tests; never on the worker's path) and ``analyzer``. The kiosk pages that administer it are the ``kiosk`` app.

Three tasks, administered by ``static/js/cognitive-battery.js`` in the portal's patient (kiosk) mode or
sent by a partner through the API as the same JSON:

* **simple reaction time**: a circle appears after a random foreperiod; the patient presses the space bar;
* **digit span**: forward (and optionally backward), digits shown one at a time, typed back;
* **word recall**: a list of common concrete nouns shown one at a time, recalled at once (optional) and
  again after the other tasks (delayed recall).

The inputs are the raw responses and timings (``inputs.RESPONSES_SCHEMA``, a JSON Schema checked strictly with
the ``jsonschema`` package); every score is computed here, never by the browser.

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

