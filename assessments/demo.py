"""Demo patients with realistic, varied cardiovascular risk factors, assessed by the real worker.

Deterministic (a seeded random generator per organization), so reruns find the same patients by MRN
and add nothing. Names are invented from short lists; no real person is described.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from accounts.tenancy import organization_scope

from . import services
from .models import Assessment, Patient

GIVEN = {
    "female": ["Amelia", "Grace", "Nadia", "Ines", "Olivia", "Hana", "Maya", "Clara", "Zainab", "Lucia", "Freya",
               "Priya", "Sofia", "Mei", "Ruth"],
    "male": ["Oliver", "Samuel", "Mateo", "Kenji", "Arjun", "Lucas", "Tomas", "Daniel", "Yusuf", "Felix", "Noah",
             "Ibrahim", "Henry", "Pavel", "Diego"],
}
FAMILY = ["Hart", "Okafor", "Lindqvist", "Moreau", "Castillo", "Nakamura", "Patel", "Kowalski", "Haddad", "Brennan",
          "Silva", "Novak", "Fischer", "Adeyemi", "Larsen", "Rossi", "Chen", "Murphy", "Dubois", "Sato"]


def _clip(value, low, high):
    return max(low, min(high, value))


def _profile(rng: random.Random, index: int) -> dict:
    sex = "female" if index % 2 == 0 else "male"
    age = rng.randint(42, 78)
    if index % 17 == 5:
        age = rng.randint(32, 38)  # under 40: the PCE does not apply, PREVENT does
    risk = rng.random()
    total = _clip(rng.gauss(205 + 25 * risk, 32), 135, 310)
    hdl = _clip(rng.gauss(56 if sex == "female" else 47, 11) - 8 * risk, 25, 95)
    sbp = _clip(rng.gauss(122 + 22 * risk, 14), 96, 195)
    height = _clip(rng.gauss(164 if sex == "female" else 177, 7), 148, 198)
    bmi = _clip(rng.gauss(26.5 + 3 * risk, 4), 18.6, 39.5)
    return {
        "sex": sex,
        "date_of_birth": timezone.localdate() - timedelta(days=int(age * 365.25) + rng.randint(10, 300)),
        "height_cm": round(height, 1),
        "weight_kg": round(bmi * (height / 100) ** 2, 1),
        "has_diabetes": rng.random() < 0.08 + 0.15 * risk,
        "treated_hypertension": sbp > 140 and rng.random() < 0.6,
        "current_smoker": rng.random() < 0.08 + 0.2 * risk,
        "on_statin": rng.random() < 0.15 + 0.15 * risk,
        "prior_cardiovascular_disease": index % 23 == 11,
        "panel": {
            "total_cholesterol": round(total),
            "hdl_cholesterol": round(hdl),
            "systolic_bp": round(sbp),
            "creatinine": round(_clip(rng.gauss(0.75 if sex == "female" else 0.95, 0.18), 0.5, 2.2), 2),
            "creatinine_unit": "mg/dL",
            "cholesterol_unit": "mg/dL",
        },
        "history_points": 3 if index % 6 == 0 else 1,
    }


def seed_modalities(*, organization, per_modality: int = 3, actor="system:seed_demo") -> dict:
    """A few assessments of every file or battery modality, with inputs the analyzer generates.

    They go to the first demo patients; a modality that already has assessments is left alone, so
    reruns add nothing.
    """
    from django.core.files.uploadedfile import SimpleUploadedFile

    from modalities import registry

    created = {}
    with organization_scope(organization):
        # MRNs are sealed: the first demo patients by MRN, sorted here after decrypting.
        patients = sorted(Patient.objects.all(), key=lambda p: p.mrn)[:per_modality]
        for name in registry.names():
            cases = registry.demo_cases(name)[:per_modality]
            if not cases or not patients or Assessment.objects.filter(modality=name).exists():
                continue
            for patient, case in zip(patients, cases, strict=False):
                files = [SimpleUploadedFile(filename, content) for filename, content in case.files]
                services.create_assessment(
                    actor=actor, organization=organization, patient=patient, modality=name,
                    inputs=dict(case.inputs), files=files,
                )
            created[name] = len(cases)
    return created


def seed_patients(*, organization, count: int = 50, actor="system:seed_demo") -> dict:
    """Create missing demo patients and their assessments (queued for the worker). Idempotent."""
    rng = random.Random(f"medilens-demo-{organization.slug}")
    created_patients = created_assessments = 0
    with organization_scope(organization):
        existing = {patient.mrn for patient in Patient.objects.all()}
        for index in range(count):
            profile = _profile(rng, index)
            mrn = f"{organization.slug[:3].upper()}-{100000 + index}"
            given = rng.choice(GIVEN[profile["sex"]])
            family = rng.choice(FAMILY)
            if mrn in existing:
                continue
            patient = services.create_patient(
                actor=actor,
                organization=organization,
                consent=True,
                mrn=mrn,
                given_name=given,
                family_name=family,
                date_of_birth=profile["date_of_birth"],
                sex_at_birth=profile["sex"],
                height_cm=profile["height_cm"],
                weight_kg=profile["weight_kg"],
                has_diabetes=profile["has_diabetes"],
                treated_hypertension=profile["treated_hypertension"],
                current_smoker=profile["current_smoker"],
                on_statin=profile["on_statin"],
                prior_cardiovascular_disease=profile["prior_cardiovascular_disease"],
            )
            created_patients += 1
            if profile["prior_cardiovascular_disease"]:
                # Secondary prevention: no primary-prevention equation applies, so none is requested (the
                # request would be refused, saying so). The patient is in the list with that history.
                continue
            points = profile["history_points"]
            for point in range(points):
                # Earlier panels were a little worse: the trend shows treatment taking effect.
                days_ago = (points - 1 - point) * 35
                drift = (points - 1 - point) * 0.06
                panel = dict(profile["panel"])
                panel["total_cholesterol"] = round(_clip(panel["total_cholesterol"] * (1 + drift), 135, 315))
                panel["systolic_bp"] = round(panel["systolic_bp"] * (1 + drift / 2))
                if days_ago:
                    panel["measured_on"] = (timezone.localdate() - timedelta(days=days_ago)).isoformat()
                services.create_assessment(
                    actor=actor, organization=organization, patient=patient, modality="cvd_risk", inputs=panel
                )
                created_assessments += 1
        pending = Assessment.objects.filter(status__in=[Assessment.Status.QUEUED, Assessment.Status.RUNNING]).count()
    return {"patients": created_patients, "assessments": created_assessments, "pending": pending}

