"""Running the body-scan analyzer on bytes made in a test, without the database or storage."""

from __future__ import annotations

import hashlib
import io
from contextlib import nullcontext

from modalities import registry
from modalities.base import AnalysisContext, InputFile, PatientFacts

ANALYZER = registry.get("body_scan")
MAN = PatientFacts(50, "male", None, False, False, False, False, False, height_cm=176.0, weight_kg=81.0)
WOMAN = PatientFacts(50, "female", None, False, False, False, False, False)


def analyse(data: bytes, inputs: dict | None = None, patient: PatientFacts = MAN, photos: int = 0):
    resolved = ANALYZER.validate_inputs(inputs=inputs or {}, patient=patient)
    files = [InputFile("scan", "application/octet-stream", len(data), open=lambda: nullcontext(io.BytesIO(data)))]
    files += [InputFile("photo", "image/jpeg", 3, open=lambda: nullcontext(io.BytesIO(b"..."))) for _ in range(photos)]
    context = AnalysisContext(inputs=resolved, files=files, patient=patient, stage=lambda _: nullcontext())
    return ANALYZER.analyze(context)


def prepared(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from assessments.uploads import PreparedUpload

    digest = hashlib.sha256(data).hexdigest()
    return PreparedUpload(name, content_type, "bin", len(data), digest, digest, io.BytesIO(data))
