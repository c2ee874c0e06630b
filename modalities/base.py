"""The interface every modality implements, and the values it exchanges with the pipeline.

An analyzer is a ``Modality`` (what it is: label, stages, catalogue, accepted files, input schema...) and three
operations: ``validate_inputs``, ``prepare_files`` and ``analyze``. The pipeline (assessments.pipeline) knows
nothing about any modality beyond this: a new modality is a new Analyzer registered in ``modalities.registry``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import IO, Any

from .results import (
    FLAG_OF_LEVEL,
    LEVEL_OF_FLAG,
    RISK_LEVELS,
    Artifact,
    Contribution,
    Measurement,
    NotApplicable,
    RiskBands,
    Score,
    contribution_json,
    document,
)


class InputError(ValueError):
    """Inputs refused at submission: a 400 with these field errors; nothing is stored."""

    def __init__(self, errors: dict[str, str] | str):
        self.errors = errors if isinstance(errors, dict) else {"inputs": errors}
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class AnalysisError(Exception):
    """The analysis cannot produce a result; ``reason`` is shown to clinicians as the failure reason."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


LIMITS = ("reference_low", "reference_high", "critical_low", "critical_high")
# What a biomarker is, as opposed to the limits it is read against (which a result may override).
_identity = attrgetter("name", "label", "category", "unit")


@dataclass(frozen=True)
class BiomarkerSpec:
    """A catalogue entry: what a biomarker is, its unit, its reference range and where they come from.

    ``abnormal_at`` says on which side of each limit the limit itself falls, because sources differ: by
    default a value equal to a limit is within it (a heart rate of 100 bpm is not tachycardia, Surawicz &
    Knilans), while a source that starts a category at the limit names it here (BMI 25 is already
    overweight, WHO; a systolic 120 mmHg is already "elevated", ACC/AHA 2017; a 10-year risk of 20% is
    already high). Values such as a keyed-in 120 mmHg or a TDS of 4.75 land exactly on limits, so this
    decides real flags, and it keeps each flag in step with the risk rule that cites the same source.
    """

    name: str
    label: str
    category: str
    unit: str
    source: str
    reference_low: float | None = None
    reference_high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None
    abnormal_at: frozenset[str] = frozenset()
    # Display precision: stored values are rounded to it, and every page, report and export shows it.
    decimals: int = 1
    # A biomarker that is itself a risk score is flagged in the score's risk categories (a PCE of 9.9% is
    # "intermediate", not "high"), so its flag and the assessment's risk level always read alike.
    bands: RiskBands | None = None
    # The LOINC code of what this biomarker measures, where one exists with the same meaning and method
    # (FHIR exports code it so); "" where none does (the export then uses MediLens's own code system).
    loinc: str = ""

    def __post_init__(self):
        unknown = set(self.abnormal_at) - set(LIMITS)
        if unknown:
            raise ValueError(f"{self.name}: abnormal_at names unknown limits {sorted(unknown)}")
        if self.bands is not None and any(getattr(self, limit) is not None for limit in LIMITS):
            raise ValueError(f"{self.name}: a score biomarker is flagged by its risk bands, not by limits")

    def _beyond(self, value: float, limit_name: str) -> bool:
        limit = getattr(self, limit_name)
        if limit is None:
            return False
        upper = limit_name.endswith("_high")
        if self.inclusive(limit_name):
            return value > limit if upper else value < limit
        return value >= limit if upper else value <= limit

    def inclusive(self, limit_name: str) -> bool:
        """Whether a value equal to this limit is within it (not flagged)."""
        return limit_name not in self.abnormal_at

    def flag(self, value: float) -> str:
        if self.bands is not None:
            return FLAG_OF_LEVEL[self.bands.level(value)]
        if all(getattr(self, limit) is None for limit in LIMITS):
            return "none"  # nothing to compare with: not "normal"
        if self._beyond(value, "critical_low") or self._beyond(value, "critical_high"):
            return "critical"
        if self._beyond(value, "reference_low"):
            return "low"
        if self._beyond(value, "reference_high"):
            return "high"
        return "normal"


def rounded(catalogue: dict[str, BiomarkerSpec], values: dict[str, float]) -> dict[str, float]:
    """Values at their catalogue precision: what is stored and shown. A rule that reads the values after
    this reads the same numbers as the clinician (a QTc of 449.96 shown as 450.0 is scored as 450.0)."""
    return {name: round(float(value), catalogue[name].decimals) for name, value in values.items()}


@dataclass(frozen=True)
class StageSpec:
    name: str
    label: str


@dataclass
class AnalysisResult:
    """What ``Analyzer.analyze`` returns: typed parts (see ``modalities.results``), never a free-form dict
    whose keys the views must know. ``score`` is the headline with what it is; when there is none,
    ``score_withheld`` says why. ``details`` is the modality's own record (for the API), never rendered by
    name."""

    method_version: str
    score: Score | None = None
    score_withheld: str = ""
    risk_level: str = ""
    confidence: float | None = None
    recommendations: list[dict] = field(default_factory=list)
    biomarkers: dict[str, float] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    not_applicable: list[NotApplicable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    explanation_summary: str = ""
    contributions: list[Contribution] = field(default_factory=list)
    explanation_image_png: bytes | None = None
    # Files kept with this result version (modalities.results.Artifact), e.g. a body scan's normalised mesh.
    artifacts: list[Artifact] = field(default_factory=list)
    # The modalities.ModelVersion that produced the result (model-backed modalities).
    model_version_id: int | None = None
    # When the measurements were taken (e.g. the lab's collection date); the analysis time if unknown.
    measured_at: datetime | None = None
    # Catalogue entries whose limits depend on this analysis (a model version's own decision threshold):
    # same name, label, category and unit as the catalogue's, other limits. Flags and the stored range use
    # them; see specs().
    spec_overrides: dict[str, BiomarkerSpec] = field(default_factory=dict)

    @property
    def risk_score(self) -> float | None:
        return round(self.score.value, self.score.scale.decimals) if self.score else None

    def document(self) -> dict[str, Any]:
        """The versioned JSON stored as ``Assessment.results``."""
        return document(
            score=self.score,
            score_withheld=self.score_withheld,
            measurements=self.measurements,
            not_applicable=self.not_applicable,
            notes=self.notes,
            details=self.details,
        )

    def contributions_json(self) -> list[dict[str, Any]]:
        return contribution_json(self.contributions, self.score.scale.decimals if self.score else 1)

    def specs(self, catalogue: dict[str, BiomarkerSpec]) -> dict[str, BiomarkerSpec]:
        """The catalogue as this result is flagged against: the analyzer's, with this result's overrides."""
        return {**catalogue, **self.spec_overrides} if self.spec_overrides else catalogue

    def check(self, catalogue: dict[str, BiomarkerSpec]) -> None:
        """Guard against an analyzer reporting what its catalogue does not define, or a non-number."""
        for name, spec in self.spec_overrides.items():
            base = catalogue.get(name)
            if base is None or _identity(spec) != _identity(base):
                raise AnalysisError(f"internal error: override of biomarker {name!r} does not match its catalogue")
        for name, value in self.biomarkers.items():
            if name not in catalogue:
                raise AnalysisError(f"internal error: biomarker {name!r} is not in the catalogue")
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AnalysisError(f"internal error: biomarker {name!r} has no finite value")
        if self.confidence is not None and not 0 <= self.confidence <= 1:
            raise AnalysisError("internal error: confidence outside 0-1")
        if self.risk_level and self.risk_level not in RISK_LEVELS:
            raise AnalysisError(f"internal error: risk level {self.risk_level!r} is not one of {RISK_LEVELS}")
        if self.contributions and self.score is None:
            raise AnalysisError("internal error: contributions to a score that was not given")
        if self.score is None:
            return
        scale = self.score.scale
        if not math.isfinite(self.score.value) or not scale.minimum <= self.score.value <= scale.maximum:
            raise AnalysisError(f"internal error: {scale.label} outside {scale.minimum}-{scale.maximum}")
        self._check_headline_flag(self.specs(catalogue))

    def _check_headline_flag(self, specs: dict[str, BiomarkerSpec]) -> None:
        """The biomarker that stores the headline number is never flagged above the risk level: a PCE of
        9.9% flagged "high" beside "intermediate risk" is the contradiction this prevents. (The level may be
        higher than the number's own category when another finding raises it, e.g. an evolving lesion.)"""
        name = self.score.scale.biomarker
        if name is None or name not in self.biomarkers:
            return
        flag_level = LEVEL_OF_FLAG.get(specs[name].flag(self.biomarkers[name]))
        if flag_level is None or not self.risk_level:
            return
        if RISK_LEVELS.index(flag_level) > RISK_LEVELS.index(self.risk_level):
            raise AnalysisError(
                f"internal error: {name} is flagged {flag_level} while the risk level is {self.risk_level}"
            )


@dataclass(frozen=True)
class InputFile:
    """A stored input as the analyzer sees it: no PHI, an opener for its bytes."""

    filename: str
    content_type: str
    size: int
    open: Callable[[], AbstractContextManager[IO[bytes]]]


@dataclass(frozen=True)
class PatientFacts:
    """What an analyzer may know of the patient: no names, no identifiers. A history item is None when the
    record says "unknown": an analyzer that needs it must ask for it or decline, never read it as False."""

    age: int
    sex_at_birth: str
    bmi: float | None
    has_diabetes: bool | None
    treated_hypertension: bool | None
    current_smoker: bool | None
    on_statin: bool | None
    prior_cardiovascular_disease: bool | None
    # The record's height and weight (None if not recorded): a body scan's Mosteller BSA is computed from them.
    height_cm: float | None = None
    weight_kg: float | None = None


@dataclass(frozen=True)
class PriorResult:
    """An earlier completed assessment of the same patient and modality."""

    inputs: dict[str, Any]
    biomarkers: dict[str, float]
    completed_at: datetime
    assessment_id: str | None = None


@dataclass
class AnalysisContext:
    inputs: dict[str, Any]
    files: list[InputFile]
    patient: PatientFacts
    stage: Callable[[str], AbstractContextManager[None]]
    # For choosing an organization's model override; analyzers never query tenant data with it.
    organization_id: int | None = None


@dataclass(frozen=True)
class DemoCase:
    """One demo assessment: structured inputs and generated files (name, bytes)."""

    inputs: dict[str, Any] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)


NO_CONFIDENCE = "Not given: this method reports no confidence for its result"


@dataclass(frozen=True)
class Modality:
    """What a modality is, for everything around its analyzer: the portal and the API (label, description, the
    input schema, which files it takes), the pipeline (queue, stages, deadline) and the results' pages (the
    catalogue). Declared once per analyzer; nothing reads a modality any other way."""

    name: str
    label: str
    description: str
    stages: tuple[StageSpec, ...]
    catalogue: dict[str, BiomarkerSpec]
    # "inference" for model-backed modalities: torch runs on the inference workers only.
    queue: str = "default"
    # Content types (by magic bytes) accepted as input files -> the extension they are stored with.
    accepted_types: dict[str, str] = field(default_factory=dict)
    requires_files: bool = False
    max_pixels: int | None = None
    deadline_seconds: int = 120
    # Publish each stage as it starts and ends, so the portal shows progress. An analyzer whose whole
    # analysis takes about a millisecond sets False: its stages are then written with its results.
    live_progress: bool = True
    # Shown where a result has no confidence (null): why this method gives none. Never a made-up number.
    no_confidence_reason: str = NO_CONFIDENCE
    # The structured inputs (a modalities.inputs.InputSchema); None: the modality takes none.
    input_schema: type | None = None
    # The module whose ``demo_cases()`` makes the demo's inputs (modalities.registry.demo_cases imports it):
    # named, not imported, so that the worker never loads a generator.
    demo_module: str = ""

    def stage_names(self) -> Iterator[str]:
        return (stage.name for stage in self.stages)


def no_history() -> list[PriorResult]:
    return []


class Analyzer:
    """Subclass, set ``modality`` and register (``modalities.registry.register``). Three operations: before
    anything is stored, ``validate_inputs`` and ``prepare_files`` (each refuses with InputError: a 400, nothing
    stored); in the worker, ``analyze``."""

    modality: Modality

    def validate_inputs(
        self,
        *,
        inputs: Any,
        patient: PatientFacts,
        history: Callable[[], list[PriorResult]] = no_history,
    ) -> dict[str, Any]:
        """The resolved, JSON-safe inputs the analysis will run on, or InputError. Default: the modality's input
        schema, with the patient's record as defaults; none if it has no schema. ``history()`` returns this
        patient's completed assessments of this modality, newest first, for an analyzer whose inputs an earlier
        result completes (a lesion's evolution); analyzers never query the database themselves."""
        if self.modality.input_schema is not None:
            from .inputs import validate

            return validate(self.modality.input_schema, inputs, patient)
        if inputs:
            raise InputError({"inputs": f"{self.modality.label} takes no structured inputs."})
        return {}

    def prepare_files(self, files: list) -> list:
        """Check and transform validated uploads before they are stored (e.g. pair a WFDB header with
        its signal file, de-identify a DICOM). Receives and returns ``assessments.uploads.PreparedUpload``
        objects; raises InputError (a 400, nothing stored) for inputs it cannot use."""
        return files

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        raise NotImplementedError
