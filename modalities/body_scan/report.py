"""From the measurements to the result: biomarkers (stored rounded), the rule, the notes, the explanation and the
artifacts."""

from __future__ import annotations

import math

import numpy as np

from ..base import AnalysisResult, rounded
from ..results import Measurement, NotApplicable
from . import artifacts, picture, rule
from .catalogue import CATALOGUE, METHOD_VERSION, MOSTELLER, whr_spec
from .detect import LABELS
from .load import Body
from .measure import Measures, slice_records

LABELS_OF_SLICES = {"waist": "Waist (WHO site)", "narrowest": "Narrowest trunk", "hip": "Hip (buttocks)"}


def build(*, body: Body, measures: Measures, inputs: dict, sex_at_birth: str, photos: int) -> AnalysisResult:
    values = _values(measures)
    not_applicable = []
    if measures.volume.litres is not None:
        values["body_volume"] = measures.volume.litres
    else:
        reason = f"Not measured: {measures.volume.reason}"
        not_applicable.append(NotApplicable("body_volume", "Body volume (scan)", reason))
    mosteller = _mosteller(inputs.get("height_cm"), inputs.get("weight_kg"))
    if mosteller is None:
        not_applicable.append(NotApplicable(
            "body_surface_area_mosteller", "Body surface area (Mosteller)",
            "The record gives no height and weight (Mosteller's estimate needs both).",
        ))
    else:
        values["body_surface_area_mosteller"] = mosteller
    biomarkers = rounded(CATALOGUE, values)
    score, level, reasons = rule.assess(
        biomarkers["waist_to_height_ratio"], biomarkers["waist_to_hip_ratio"], sex_at_birth
    )
    overrides = {}
    spec = whr_spec(sex_at_birth)
    if spec is not None:
        overrides["waist_to_hip_ratio"] = spec
    notes = _notes(body, measures, inputs, photos)
    details = _details(body, measures, biomarkers, reasons)
    named = _named(measures)
    labels = {
        name: f"{LABELS_OF_SLICES[name]}: {item.perimeter_m * 100:.1f} cm, {item.height_m * 100:.1f} cm above the floor"
        for name, item in named.items()
    }
    image = picture.slices_png(body.mesh, measures.height_m, named, labels)
    return AnalysisResult(
        method_version=METHOD_VERSION,
        score=score,
        risk_level=level,
        biomarkers=biomarkers,
        measurements=_measurements(measures),
        not_applicable=not_applicable,
        notes=notes,
        details=details,
        explanation_summary=summary(biomarkers, measures, level, reasons),
        explanation_image_png=image,
        artifacts=artifacts.artifacts(
            model=artifacts.model_glb(body.mesh),
            viewer=artifacts.viewer_glb(body.mesh, _rings(measures)),
            image=image,
            data=artifacts.data_json({"method_version": METHOD_VERSION, **details, "biomarkers": biomarkers}),
        ),
        spec_overrides=overrides,
    )


def _values(measures: Measures) -> dict[str, float]:
    height_cm = measures.height_m * 100
    waist_cm = measures.waist.perimeter_m * 100
    hip_cm = measures.hip.perimeter_m * 100
    return {
        "standing_height": height_cm,
        "waist_circumference": waist_cm,
        "narrowest_waist_circumference": measures.narrowest.perimeter_m * 100,
        "hip_circumference": hip_cm,
        "waist_to_height_ratio": waist_cm / height_cm,
        "waist_to_hip_ratio": waist_cm / hip_cm,
        "body_surface_area_scan": measures.area_m2,
    }


def _mosteller(height_cm, weight_kg) -> float | None:
    """Mosteller, N Engl J Med 1987;317:1098: sqrt(height cm x weight kg / 3600)."""
    if height_cm is None or weight_kg is None:
        return None
    return math.sqrt(float(height_cm) * float(weight_kg) / 3600)


def _named(measures: Measures) -> dict:
    return {"waist": measures.waist, "narrowest": measures.narrowest, "hip": measures.hip}


def _rings(measures: Measures) -> dict:
    return {
        name: (np.asarray(item.hull.exterior.coords)[:-1], item.height_m)
        for name, item in (("waist", measures.waist), ("hip", measures.hip))
    }


def _measurements(measures: Measures) -> list[Measurement]:
    height = measures.height_m
    return [
        Measurement("waist_height", "Waist slice height", round(measures.waist.height_m * 100, 1), "cm"),
        Measurement("narrowest_height", "Narrowest slice height", round(measures.narrowest.height_m * 100, 1), "cm"),
        Measurement("hip_height", "Hip slice height", round(measures.hip.height_m * 100, 1), "cm"),
        Measurement("hip_height_fraction", "Hip slice, share of height", round(measures.hip.height_m / height * 100, 1),
                    "%"),
        Measurement("faces", "Mesh faces", measures.faces, "", decimals=0),
    ]


def _notes(body: Body, measures: Measures, inputs: dict, photos: int) -> list[str]:
    notes = [f"{LABELS[body.source_format]} mesh, {measures.faces:,} faces, read with +{body.up.upper()} up."]
    if body.source_format == "glb" and inputs.get("units") not in (None, "m"):
        notes.append(f"The units input ({inputs['units']}) was ignored: glTF is in metres by specification.")
    if measures.volume.repaired:
        notes.append("Body volume measured after repair: the scan was open and was closed with MeshFix.")
    if body.kept_texture:
        notes.append("Colours and textures were kept in the stored model, as requested: it may identify the person.")
    if photos:
        notes.append(f"{photos} photo(s) stored beside the scan; they are not analysed.")
    notes.append(
        "Waist and hip are placed from height fractions, not palpated landmarks, and measured on the scan's surface "
        "(clothing included): compare with a tape measurement before acting on a borderline value."
    )
    return notes


def _details(body: Body, measures: Measures, biomarkers: dict, reasons: list[str]) -> dict:
    return {
        "slices": slice_records(measures),
        "format": body.source_format,
        "up_axis": body.up,
        "unit_scale_to_m": body.scale,
        "faces": measures.faces,
        "volume_after_repair": measures.volume.repaired,
        "volume_refused": measures.volume.reason,
        "body_axis_m": [round(float(v), 4) for v in measures.axis],
        "risk_reasons": reasons,
        "mosteller": MOSTELLER,
    }


def summary(biomarkers: dict, measures: Measures, level: str, reasons: list[str]) -> str:
    parts = [
        f"Standing height {biomarkers['standing_height']:.1f} cm; waist {biomarkers['waist_circumference']:.1f} cm at "
        f"the WHO site ({measures.waist.height_m * 100:.0f} cm above the floor), narrowest trunk "
        f"{biomarkers['narrowest_waist_circumference']:.1f} cm, hip {biomarkers['hip_circumference']:.1f} cm.",
        "; ".join(reasons) + ".",
        f"Risk level {level}: the higher of the WHtR and WHR categories.",
    ]
    return " ".join(parts)
