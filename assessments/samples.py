"""Sample inputs a new user can download from the modality chooser and upload to try a modality: small real
files, shipped in static/samples/ (made once with ``python manage.py shell -c "from assessments import
samples; samples.write()"``), each analysed through its analyzer by assessments/tests/test_samples.py.

They are generated signals and pictures (no patient ever recorded them), in the formats clinics send: an EDF
ECG, a WAV recording, JPEG and PNG photographs. The generators are the modalities' own demo generators,
imported only by ``write`` (never on a request or on the worker's path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "static" / "samples"


@dataclass(frozen=True)
class Sample:
    filename: str
    content_type: str
    # The structured inputs the sample is meant with (the form's defaults otherwise).
    inputs: dict = field(default_factory=dict)


SAMPLES = {
    "cardiology": Sample("ecg-sample-10s.edf", "biosig/edf"),
    "speech": Sample("voice-sample-sustained-a.wav", "audio/wav", {"task": "sustained_vowel"}),
    "retinal": Sample("retinal-sample.jpg", "image/jpeg"),
    "dermatology": Sample("skin-lesion-sample.jpg", "image/jpeg", {"image_type": "clinical", "pixels_per_mm": 20}),
    "radiology": Sample("chest-xray-sample.png", "image/png"),
    "body_scan": Sample("body-scan-sample.glb", "model/gltf-binary"),
}


def _ecg() -> bytes:
    from modalities.cardiology import synthetic

    leads = synthetic.ecg(synthetic.regular_r_times(72, 10), leads=("I", "II", "V1"), qt_ms=390, seed=1)
    return synthetic.edf_bytes(leads, 500)


def _voice() -> bytes:
    from modalities.speech import synthetic

    samples, _ = synthetic.synthesize_voice(f0=210, duration=3.0, jitter=0.003, shimmer=0.015, snr_db=32, seed=11)
    return synthetic.encode(samples, 16000, "WAV", "PCM_16")


def _jpeg(rgb, size: int | None = None) -> bytes:
    import io

    from PIL import Image

    picture = Image.fromarray(rgb)
    if size:
        picture = picture.resize((size, size))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _fundus() -> bytes:
    from modalities.retinal import synthetic

    return _jpeg(
        synthetic.synthetic_fundus(
            1024, synthetic.demo_vessel_tree(1024, branches=6, seed=1), fovea=(0.36, 0.50), seed=11
        ).rgb
    )


def _lesion() -> bytes:
    from modalities.dermatology import synthetic

    return synthetic.demo_photo(seed=1, shape="round", colours=[synthetic.LIGHT_BROWN], size=(800, 600))


def _chest() -> bytes:
    from modalities.radiology import demo

    return demo.picture_bytes(demo.chest_image(303, opacity=True, size=512))


def _body_scan() -> bytes:
    from modalities.body_scan import synthetic

    return synthetic.sample_glb()


MAKERS = {"cardiology": _ecg, "speech": _voice, "retinal": _fundus, "dermatology": _lesion, "radiology": _chest,
          "body_scan": _body_scan}


def write(directory: Path = SAMPLES_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, sample in SAMPLES.items():
        path = directory / sample.filename
        path.write_bytes(MAKERS[name]())
        written.append(path)
    return written
