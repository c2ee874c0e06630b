"""Chest X-ray inputs: is a PNG/JPEG plausibly a chest radiograph (refusals and false refusals), and no
identifier survives in a stored DICOM file's kept attributes.

The pictures come from ``generated_images`` (written independently of ``build_reference_model`` and of the
radiology demo) and from the sample images scikit-image ships in its wheel (real photographs, a real fundus
photo). What each check is and why its thresholds are what they are: ``modalities/radiology/suitability.py``.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from modalities import imaging
from modalities.base import AnalysisError, InputError
from modalities.radiology import deidentify, demo, suitability
from modalities.tests import generated_images as generated
from modalities.tests.test_radiology import (
    ANALYZER,
    StubModel,
    _api_create,
    _run,
    activate_reference_model,
    context_for,
    prepared,
)

CHEST_FILMS = 24  # each film: its own size, aspect, position, exposure, contrast; a quarter with an effusion


@pytest.fixture
def stub_model(monkeypatch):
    """A stand-in for the active model (test_radiology's StubModel): these tests are about the inputs."""
    from modalities import runtime

    def install(probabilities, **options):
        model = StubModel(probabilities, **options)
        monkeypatch.setattr(runtime, "active_model", lambda modality, organization_id: model.version)
        monkeypatch.setattr(runtime, "load", lambda version: model)
        return model

    return install


def upload_verdict(picture, *, format: str = "PNG"):
    """prepare_files on the encoded picture: None when accepted, else the refusal."""
    data = generated.encode(picture, format=format)
    content_type = "image/png" if format == "PNG" else "image/jpeg"
    try:
        ANALYZER.prepare_files([prepared(f"picture.{format.lower()}", data, content_type)])
    except InputError as error:
        return error.errors["files"]
    return None


def sample(name: str) -> np.ndarray:
    """A sample image shipped in scikit-image's wheel (read from disk, never fetched)."""
    import skimage.data

    with Image.open(Path(skimage.data.__file__).parent / name) as picture:
        return np.asarray(picture.convert("RGB"))


# --- the statistics, on pictures of known value -----------------------------------------------------------------
def test_colourfulness_is_zero_for_grey_and_follows_hasler_and_susstrunk_for_colour():
    grey = np.repeat(np.linspace(0, 255, 64 * 64).reshape(64, 64, 1), 3, axis=2)
    assert suitability.colourfulness(grey) == 0
    # Half the pixels pure red (rg 255, yb 127.5), half black (0, 0): sd(rg) 127.5, sd(yb) 63.75, means 127.5 and
    # 63.75: M = hypot(127.5, 63.75) + 0.3 hypot(127.5, 63.75) = 1.3 x 142.54.
    half = np.zeros((2, 2, 3))
    half[0, :, 0] = 255
    assert suitability.colourfulness(half) == pytest.approx(1.3 * np.hypot(127.5, 63.75), rel=1e-9)


def test_neighbour_correlation_of_a_ramp_a_checkerboard_and_noise():
    ramp = np.add.outer(np.arange(200.0), np.arange(200.0))
    assert suitability.neighbour_correlation(ramp) == pytest.approx(1.0, abs=1e-3)
    checkerboard = np.indices((200, 200)).sum(axis=0) % 2
    assert suitability.neighbour_correlation(checkerboard.astype(float)) == pytest.approx(-1.0, abs=1e-9)
    noise = np.random.default_rng(3).random((256, 256))
    assert abs(suitability.neighbour_correlation(noise)) < 0.02  # 1/sqrt(65536) = 0.004 standard error


def test_circle_deviation_of_a_drawn_circle_a_cut_circle_and_an_ellipse():
    yy, xx = np.mgrid[0:240, 0:320]
    circle = np.hypot(xx - 160, yy - 120) <= 100
    assert imaging.circle_deviation(circle) < 0.01  # the digitised outline: under a pixel from the circle
    cut = np.hypot(xx - 160, yy - 120) <= 135  # cut by the top and bottom of the frame, as fundus fields are
    assert imaging.circle_deviation(cut) < 0.01
    # An ellipse with axes 100 and 75: r runs from 75 to 100 round the outline, ~0.09 of the radius RMS.
    ellipse = ((xx - 160) / 100) ** 2 + ((yy - 120) / 75) ** 2 <= 1
    assert imaging.circle_deviation(ellipse) > 0.05
    assert imaging.circle_deviation(np.ones((240, 320), bool)) is None  # no surround: nothing to fit
    corner = np.ones((240, 320), bool)
    corner[:30, :30] = False  # a short arc round a dark corner says nothing about a circle
    assert imaging.circle_deviation(corner) is None


# --- false refusals: chest films of an independent generator ------------------------------------------------------
def test_chest_films_of_an_independent_generator_are_accepted():
    rng = np.random.default_rng(2024)
    refused = []
    for index in range(CHEST_FILMS):
        film = generated.chest_film(rng, height=int(rng.integers(300, 800)))
        verdict = upload_verdict(film, format="JPEG" if index % 3 == 2 else "PNG")
        if verdict:
            refused.append((index, verdict))
    assert refused == []


def test_abnormal_and_annotated_films_are_accepted():
    # An effusion whiting out one lung base, a line across the chest and a burned-in side marker together.
    rng = np.random.default_rng(77)
    films = [generated.chest_film(rng, effusion=True, wire=True, marker=True) for _ in range(6)]
    assert [upload_verdict(film) for film in films] == [None] * 6
    # A 16-bit PNG export: the same film, more grey levels.
    film = generated.chest_film(np.random.default_rng(5))
    buffer = io.BytesIO()
    Image.fromarray(np.round(film * 65535).astype(np.uint16)).save(buffer, format="PNG")
    ANALYZER.prepare_files([prepared("film16.png", buffer.getvalue(), "image/png")])


def test_a_film_that_passes_is_analysed_and_says_the_check_is_not_validated(stub_model):
    stub_model({"no_finding": 0.7, "opacity": 0.3})
    data = generated.encode(generated.chest_film(np.random.default_rng(11)))
    result = ANALYZER.analyze(context_for(data, "image/png")[0])
    assert result.score is not None
    assert result.details["input_check"]["passed"] is True
    assert result.details["input_check"]["validated_on_real_radiographs"] is False
    assert any("not validated on real radiographs" in note for note in result.notes)


# --- refusals ---------------------------------------------------------------------------------------------------
def _pictures(kind: str, count: int = 4):
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    make = {
        "grey noise": lambda height: generated.noise(rng, height=height),
        "colour noise": lambda height: generated.noise(rng, height=height, colour=True),
        "colour photo": lambda height: generated.colour_photo(rng, height=height),
        "document": lambda height: generated.document(rng, height=height),
        "document scanned in colour": lambda height: generated.document(rng, height=height, colour=True),
        "colour fundus photo": lambda height: generated.fundus_photo(rng, height=height),
        "red-free fundus photo": lambda height: generated.fundus_photo(rng, height=height, red_free=True),
        "skin photo": lambda height: generated.skin_photo(rng, height=height),
    }[kind]
    return [make(int(rng.integers(400, 700))) for _ in range(count)]


REASONS = {
    "grey noise": "neighbouring pixels are almost unrelated",
    "colour noise": "neighbouring pixels are almost unrelated",
    "colour photo": "the image is in colour",
    "document": "like a white page",
    "document scanned in colour": "like a white page",
    "colour fundus photo": "circular field on a black surround",
    "red-free fundus photo": "circular field on a black surround",
    "skin photo": "the image is in colour",
}


@pytest.mark.parametrize("kind", list(REASONS))
def test_pictures_that_are_not_radiographs_are_refused_at_upload_with_the_reason(kind):
    for index, picture in enumerate(_pictures(kind)):
        verdict = upload_verdict(picture, format="JPEG" if index == 3 and picture.ndim == 3 else "PNG")
        assert verdict is not None, (kind, index)
        assert "this does not look like a chest radiograph" in verdict and REASONS[kind] in verdict, verdict


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("astronaut.png", "the image is in colour"),
        ("coffee.png", "the image is in colour"),
        ("retina.jpg", "circular field on a black surround"),  # a real fundus photograph (CC0)
        ("grass.png", "neighbouring pixels are almost unrelated"),
        ("brick.png", "neighbouring pixels are almost unrelated"),
    ],
)
def test_real_photographs_are_refused(name, reason):
    verdict = upload_verdict(sample(name))
    assert verdict is not None and reason in verdict, verdict


def test_a_stored_picture_that_is_not_a_radiograph_fails_the_analysis_never_a_score(stub_model):
    """Stored before the check existed (or reaching the worker another way): the analysis refuses it too."""
    stub_model({"no_finding": 0.1, "opacity": 0.9})
    page = generated.encode(generated.document(np.random.default_rng(8)))
    with pytest.raises(AnalysisError, match=r"^This does not look like a chest radiograph: .*like a white page"):
        ANALYZER.analyze(context_for(page, "image/png")[0])
    fundus = generated.encode(generated.fundus_photo(np.random.default_rng(9)), format="JPEG")
    with pytest.raises(AnalysisError, match="the image is in colour"):
        ANALYZER.analyze(context_for(fundus, "image/jpeg")[0])


@pytest.mark.django_db
def test_a_page_sent_as_a_chest_x_ray_is_a_400_and_nothing_is_stored(tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import assert_error, make_patient, nothing_stored

    patient = make_patient(tenant_a)
    page = generated.encode(generated.document(np.random.default_rng(12)))
    with nothing_stored(s3_server, s3_bucket):
        response = _api_create(tenant_a, patient, "letter.png", page, "image/png")
    error = assert_error(response, 400, field="files")
    assert "this does not look like a chest radiograph" in " ".join(error["fields"]["files"]), error


# --- DICOM: free text on the keep list ------------------------------------------------------------------------
NAME, MRN, BIRTH_DATE = "ZZPLANTED^BEATRIX", "MRN-5550-1234", "19590317"
PLANTED = (NAME, MRN, BIRTH_DATE, "ZZPLANTED", "BEATRIX")


def _lut_dataset(descriptor, data):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.add_new(0x00283002, "US", descriptor)  # LUTDescriptor
    item.add_new(0x00283006, "US", data)  # LUTData, as US values (the VR may be US or OW)
    return item


def _films(planted: bool) -> dict[str, bytes]:
    """Two DICOM films of the same pixels, one with the identifiers typed into every attribute on the keep list
    that can hold text, one without. 'window' has a window with its explanation and a rescale type; 'luts' has a
    modality LUT and a VOI LUT sequence (each with an explanation and a type) and no window."""
    picture = generated.chest_film(np.random.default_rng(31), height=400)
    text = f"{NAME} {MRN} {BIRTH_DATE}"
    extra = (
        {
            "WindowCenterWidthExplanation": text[:64],
            "RescaleType": f"{NAME} {BIRTH_DATE}"[:64],
            "ImageType": ["ORIGINAL", "PRIMARY", "ZZPLANTED", "BEATRIX"],
            "Grid": "ZZPLANTED",
            "DetectorType": "BEATRIX",
            "PixelIntensityRelationship": "ZZPLANTED",
            "PatientOrientation": ["L", "ZZPLANTED"],
            "ImageLaterality": "BEATRIX",
        }
        if planted
        else {"RescaleType": "US"}
    )
    films = {"window": demo.dicom_bytes(picture, window=(2048.0, 4096.0), **extra)}
    modality_lut = _lut_dataset([4096, 0, 16], [2 * value for value in range(4096)])
    voi_lut = _lut_dataset([8192, 0, 16], [value * 8 for value in range(8192)])
    if planted:
        modality_lut.LUTExplanation = text[:64]
        modality_lut.ModalityLUTType = f"{NAME}"[:64]
        voi_lut.LUTExplanation = text[:64]
    else:
        modality_lut.ModalityLUTType = "US"
    films["luts"] = demo.dicom_bytes(picture, window=None, ModalityLUTSequence=[modality_lut], VOILUTSequence=[voi_lut])
    return films


def _without_rescale(data: bytes) -> bytes:
    """A modality LUT replaces the rescale; PS3.3 allows one or the other."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    for keyword in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
        if keyword in dataset:
            delattr(dataset, keyword)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
def test_kept_attributes_keep_their_form_only():
    from pydicom.dataelem import DataElement

    assert deidentify._kept(DataElement(0x00281055, "LO", "ZZ NAME")) is None  # WindowCenterWidthExplanation
    assert deidentify._kept(DataElement(0x00281054, "LO", "ZZ NAME")).value == "US"  # RescaleType: unspecified
    assert deidentify._kept(DataElement(0x00281054, "LO", "HU")).value == "HU"
    assert deidentify._kept(DataElement(0x00080008, "CS", ["DERIVED", "PRIMARY", "ZZNAME"])).value == [
        "DERIVED",
        "PRIMARY",
    ]
    assert deidentify._kept(DataElement(0x00181164, "DS", "0.139\\0.139")).value == [0.139, 0.139]
    assert deidentify._kept(DataElement(0x00200020, "CS", ["L", "F"])).value == ["L", "F"]
    assert deidentify._kept(DataElement(0x00080016, "UI", "ZZ.NAME")) is None
    assert deidentify._kept(DataElement(0x00281050, "LO", "ZZ NAME")) is None  # WindowCenter written as text
    # A window centre that is not a number (a name typed over it, as a file on disk can carry): dropped, and the
    # analysis falls back to the automatic window.
    data = demo.dicom_bytes(generated.chest_film(np.random.default_rng(4), height=300), window=(2048.0, 4096.0))
    at = data.index(b"2048.0")
    typed_over = data[:at] + b"ZZNAME" + data[at + 6 :]
    assert pydicom.dcmread(io.BytesIO(typed_over)).WindowCenter == "ZZNAME"
    (item,) = ANALYZER.prepare_files([prepared("typed.dcm", typed_over)])
    assert b"ZZNAME" not in item.content.getvalue()
    assert "WindowCenter" not in pydicom.dcmread(io.BytesIO(item.content.getvalue()))


@pytest.mark.django_db
def test_identifiers_typed_into_kept_attributes_never_reach_storage_and_the_numbers_stay(
    tenant_a, s3_server, s3_bucket
):
    """Through the real upload path (API, S3): the stored bytes hold none of the planted name, MRN or birth date,
    and each film analyses to the same numbers as the same film without them."""
    from accounts.tenancy import scopes_disabled
    from assessments.models import UploadedFile
    from assessments.tests.helpers_api import make_patient, s3_client

    activate_reference_model()
    patient = make_patient(tenant_a)
    planted, control = _films(planted=True), _films(planted=False)
    planted["luts"], control["luts"] = _without_rescale(planted["luts"]), _without_rescale(control["luts"])
    for kind in ("window", "luts"):
        original = pydicom.dcmread(io.BytesIO(planted[kind]))
        assert all(value.encode() in planted[kind] for value in PLANTED), kind  # planted where it looks
        response = _api_create(tenant_a, patient, f"{kind}.dcm", planted[kind], "application/dicom")
        assert response.status_code == 201, response.content
        assessment_id = response.json()["id"]
        with scopes_disabled():
            row = UploadedFile.objects.get(assessment_id=assessment_id)
        stored = s3_client(s3_server).get_object(Bucket=s3_bucket, Key=row.storage_key)["Body"].read()
        for value in PLANTED:
            assert value.encode() not in stored, (kind, value)
        assert row.sha256_stored == hashlib.sha256(stored).hexdigest()
        clean = pydicom.dcmread(io.BytesIO(stored))
        assert np.array_equal(clean.pixel_array, original.pixel_array)

        outcome, assessment = _run(tenant_a, assessment_id)
        assert outcome == "completed", assessment.failure_reason
        body = tenant_a.api("read_only").get(f"/api/v1/assessments/{assessment_id}/").json()
        measured = {marker["name"]: marker["value"] for marker in body["biomarkers"]}
        (reference_item,) = ANALYZER.prepare_files([prepared(f"{kind}.dcm", control[kind])])
        expected = ANALYZER.analyze(context_for(reference_item.content.getvalue())[0])
        assert measured == pytest.approx(expected.biomarkers, abs=0), kind
        assert body["risk_score"] == expected.risk_score and body["risk_level"] == expected.risk_level
        assert assessment.results["details"]["window"] == expected.details["window"], kind
