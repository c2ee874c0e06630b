"""The patient page's trend: which biomarkers a clinician may pick (grouped by modality, by label, with
quality-control metrics apart from the clinical ones), which they picked (up to three), and their series."""

from __future__ import annotations

from dataclasses import dataclass, field

from modalities import registry

from . import charts, presenters, selectors
from .presenters import humanize

# How far back the patient page's trend chart looks.
TREND_DAYS = 5 * 365
DEFAULT_TREND_BIOMARKER = "pce_ascvd_10y"
# Catalogue categories that grade the input (signal, image) rather than the patient: offered last, apart.
QUALITY_CONTROL_CATEGORIES = frozenset({"signal_quality", "image_quality"})


@dataclass
class Choice:
    name: str
    label: str
    modality: str
    quality_control: bool
    spec: object = None


@dataclass
class Picked:
    names: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def choices(patient) -> dict[str, Choice]:
    """The patient's measured biomarkers by name (the first modality that measured a name owns it)."""
    found: dict[str, Choice] = {}
    for name, modality in selectors.patient_biomarker_kinds(patient):
        if name in found:
            continue
        spec = presenters.biomarker_spec(name, modality)
        found[name] = Choice(
            name=name,
            label=spec.label if spec else humanize(name),
            modality=modality,
            quality_control=spec is not None and spec.category in QUALITY_CONTROL_CATEGORIES,
            spec=spec,
        )
    return found


def groups(found: dict[str, Choice]) -> list[tuple[str, list[Choice]]]:
    """<optgroup>s: each modality's clinical biomarkers by label, then each modality's quality-control
    metrics in a group of their own, after every clinical group."""
    labels = dict(registry.choices())
    clinical: dict[str, list[Choice]] = {}
    quality: dict[str, list[Choice]] = {}
    for choice in found.values():
        (quality if choice.quality_control else clinical).setdefault(choice.modality, []).append(choice)

    def ordered(by_modality, suffix):
        return [
            (labels.get(modality, humanize(modality)) + suffix, sorted(items, key=lambda c: c.label.lower()))
            for modality, items in sorted(by_modality.items(), key=lambda item: labels.get(item[0], item[0]))
        ]

    return ordered(clinical, "") + ordered(quality, " · quality control")


def picked(wanted: list[str], found: dict[str, Choice]) -> Picked:
    """The biomarkers asked for (``?biomarker=`` up to three times), in order, without repeats; what cannot
    be shown is an error to say on the page. Nothing (else) to show: the default score, else the first clinical."""
    result = Picked()
    for name in dict.fromkeys(n.strip() for n in wanted if n.strip()):
        if name not in found:
            result.errors.append(f"“{name[:60]}” has not been measured for this patient.")
        elif len(result.names) == charts.MAX_SERIES:
            result.errors.append(f"Up to {charts.MAX_SERIES} biomarkers can share the chart.")
            break
        else:
            result.names.append(name)
    if not result.names and found:
        clinical = [c.name for c in found.values() if not c.quality_control] or list(found)
        result.names.append(DEFAULT_TREND_BIOMARKER if DEFAULT_TREND_BIOMARKER in found else clinical[0])
    return result


def series(patient, names: list[str], found: dict[str, Choice]) -> list[charts.Series]:
    out = []
    for name in names:
        values = list(selectors.patient_biomarker_history(patient, name, days=TREND_DAYS))
        choice = found[name]
        unit = values[-1].unit if values else (choice.spec.unit if choice.spec else "")
        out.append(charts.Series(name, values, choice.label, unit, choice.spec))
    return out
