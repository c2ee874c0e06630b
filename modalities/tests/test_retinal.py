"""The retinal analyzer against photos of known truth, the bad inputs of issue 5, and one assessment end to end.

Known truth comes from ``retinal.synthetic.synthetic_fundus``: vessels drawn with exact, anti-aliased coverage (their
area is the coverage map's sum), straight or sinusoidal centrelines (their arc/chord ratio is an integral),
and an optic disc drawn at a known centre. The analyzer sees only the encoded photo.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image, ImageFilter

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import Assessment, UploadedFile
from modalities import imaging, registry, retinal
from modalities.base import AnalysisContext, AnalysisError, InputError, InputFile, PatientFacts
from modalities.retinal import analyzer as retinal_analyzer
from modalities.retinal import field, measure, rule, synthetic
from modalities.retinal import quality as retinal_quality
from modalities.retinal import vessels as retinal_vessels

SIZE = 1024
FACTS = PatientFacts(
    age=60,
    sex_at_birth="female",
    bmi=None,
    has_diabetes=False,
    treated_hypertension=False,
    current_smoker=False,
    on_statin=False,
    prior_cardiovascular_disease=False,
)


# --- helpers ----------------------------------------------------------------------------------------------------
def png(rgb) -> bytes:
    return imaging.encode_png(rgb)


def jpeg(rgb, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def analyze(data: bytes, content_type: str = "image/png"):
    """Run the analyzer as the pipeline does, with a context that records the stages entered."""
    entered = []

    @contextlib.contextmanager
    def stage(name):
        entered.append(name)
        yield

    file = InputFile(
        filename="fundus",
        content_type=content_type,
        size=len(data),
        open=lambda: contextlib.nullcontext(io.BytesIO(data)),
    )
    analyzer = registry.get("retinal")
    result = analyzer.analyze(AnalysisContext(inputs={}, files=[file], patient=FACTS, stage=stage))
    result.check(analyzer.modality.catalogue)
    assert entered == list(analyzer.modality.stage_names())
    json.dumps(result.document())  # what the pipeline stores must be JSON
    json.dumps(result.contributions_json())
    return result


def sinusoid_dm(amplitude: float, wavelength: float) -> float:
    """Arc/chord of y = A sin(2 pi x / L) over whole periods: (1/L) * integral of sqrt(1 + y'^2) over a period."""
    k = 2 * np.pi * amplitude / wavelength
    x = np.linspace(0.0, wavelength, 200_001)
    return float(np.trapezoid(np.sqrt(1 + (k * np.cos(2 * np.pi * x / wavelength)) ** 2), x) / wavelength)


def real_fundus() -> np.ndarray:
    """scikit-image's sample fundus photo (a normal left eye, CC0: Häggström 2014), shipped in its wheel."""
    from pathlib import Path

    import skimage.data

    with Image.open(Path(skimage.data.__file__).parent / "retina.jpg") as image:  # read from the wheel, no fetch
        return np.asarray(image.convert("RGB"))


# --- known truth ------------------------------------------------------------------------------------------------
WIDTHS = (4, 6, 8, 10, 12)


@pytest.fixture(scope="module")
def straight_photo():
    # Five straight vessels of known width, at five angles, all at least 60 px inside the field (radius 471 px
    # round the centre), none touching another or the disc. A sixth vessel crosses the disc, as they do.
    centre = SIZE / 2
    vessels = []
    for index, (width, angle) in enumerate(zip(WIDTHS, (0.0, 22.5, 45.0, 67.5, 100.0), strict=True)):
        offset = (index - 2) * 85.0
        direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
        normal = np.array([-direction[1], direction[0]])
        middle = np.array([centre, centre]) + offset * normal
        vessels.append((synthetic.vessel_path(middle - 250 * direction, middle + 250 * direction), width))
    disc = (0.50, 0.86)
    vessels.append((synthetic.vessel_path((380, 880), (640, 880)), 6))
    photo = synthetic.synthetic_fundus(SIZE, vessels, disc=disc, seed=7)
    return photo, analyze(png(photo.rgb))


@pytest.fixture(scope="module")
def sinusoid_photo():
    # Two sinusoidal vessels over whole periods (4 x 160 px and 4 x 150 px), far apart, the disc away from both.
    vessels = [
        (synthetic.vessel_path((190, 330), (830, 330), amplitude=20, wavelength=160), 6),
        (synthetic.vessel_path((210, 640), (810, 640), amplitude=30, wavelength=150), 6),
    ]
    photo = synthetic.synthetic_fundus(SIZE, vessels, disc=(0.50, 0.86), seed=8)
    return photo, analyze(png(photo.rgb))


def test_vessel_density_matches_the_drawn_area(straight_photo):
    photo, result = straight_photo
    scale = result.details["working_scale"]
    # Truth: the drawn vessel area (original px, x scale^2 in working px) over the analysis region.
    truth = 100 * float(photo.coverage.sum()) * scale**2 / result.details["analysis_region_px"]
    measured = result.biomarkers["vessel_density"]
    # 10%: on drawn vessels 4-14 px wide, Frangi + hysteresis + closing segments each width within 6% of its
    # area (the anti-aliased edge pixel is kept or not depending on the threshold); resampling 942 -> 1024 px
    # and the noise add about 2%. Thinner vessels are over-segmented (next test), so none are drawn here.
    assert abs(measured - truth) / truth < 0.10, (measured, truth)


def test_thin_vessels_are_over_segmented_within_the_documented_bounds():
    # The module docstring says: 3 px +30%, 2 px +70% (the smallest Frangi scale, 1.5 px, is wider than the
    # vessel). Bounds a little wider than those figures, and never under-segmented.
    rows = {2: (250, 340, 430), 3: (600, 690, 780)}
    vessels = [(synthetic.vessel_path((260, y), (760, y + 20)), width) for width, ys in rows.items() for y in ys]
    photo = synthetic.synthetic_fundus(SIZE, vessels, disc=(0.5, 0.08), seed=5)
    work = field.working_image(photo.rgb)
    mask = retinal_vessels.segment_vessels(work)
    for width, (low, high) in ((2, (1.0, 2.0)), (3, (1.0, 1.5))):
        top, bottom = rows[width][0] - 40, rows[width][-1] + 60  # the band of this width's vessels (original px)
        band = slice(int((top - work.offset[1]) * work.scale), int((bottom - work.offset[1]) * work.scale))
        ratio = mask[band].sum() / (photo.coverage[top:bottom].sum() * work.scale**2)
        assert low <= ratio <= high, (width, ratio)


def test_field_and_analysis_region_match_the_drawn_field(straight_photo):
    photo, _ = straight_photo
    work = field.working_image(photo.rgb)
    radius = photo.field_radius * work.scale
    # 1.5%: the drawn field edge is a hard circle; thresholding it at working size moves the edge by at most
    # a pixel after resampling (2 / 512 of the radius -> 0.8% of the area).
    assert abs(work.field.sum() / (np.pi * radius**2) - 1) < 0.015
    assert abs(work.region.sum() / (np.pi * (radius - field.FIELD_MARGIN) ** 2) - 1) < 0.015


def test_straight_vessels_have_a_tortuosity_of_one(straight_photo):
    _, result = straight_photo
    # A straight centreline has arc = chord. 0.02: the skeleton's 8-connected staircase after 2 px smoothing
    # and its ragged ends add under 1% on a 500 px segment at any angle (0 to 100 degrees drawn here).
    assert 1.0 <= result.biomarkers["vessel_tortuosity"] < 1.02
    assert result.details["vessel_tortuosity_segments"] >= len(WIDTHS)


def test_sinusoidal_vessels_match_the_analytic_arc_chord_ratio(sinusoid_photo, straight_photo):
    _, result = sinusoid_photo
    truth = (sinusoid_dm(20, 160) + sinusoid_dm(30, 150)) / 2  # 1.140 and 1.321: each vessel is one segment
    measured = result.biomarkers["vessel_tortuosity"]
    # 3%: the skeleton ends a half-width short of each drawn end, at an arbitrary phase of the sine (under 1%
    # of a 600 px vessel), and 2 px smoothing flattens a 150 px wave by 0.4%; the rest is pixel staircase.
    assert abs(measured - truth) / truth < 0.03, (measured, truth)
    assert result.details["vessel_tortuosity_segments"] == 2
    assert measured > straight_photo[1].biomarkers["vessel_tortuosity"] + 0.15


def test_optic_disc_is_found_where_it_was_drawn(straight_photo):
    photo, result = straight_photo
    x = result.details["optic_disc_x"] * SIZE
    y = result.details["optic_disc_y"] * SIZE
    # 8 px (11% of the 72 px disc radius): the window is located on a 4x reduced map (+-2 px) and the
    # vignetting gradient and the vessel across the disc shift the brightest window by a few pixels.
    assert np.hypot(x - photo.disc_centre[0], y - photo.disc_centre[1]) < 8


def test_a_real_fundus_photo_reads_plausibly():
    # Not known truth: a sanity check on a real photo. The disc centre (0.156, 0.469) was read by eye from
    # the photo; 0.03 of its width is ~40 px, a third of the disc's diameter. Vessel density in manual maps of
    # normal eyes is about 12% of the field (DRIVE); accept 6-18%. A normal eye's vessels are gently curved.
    result = analyze(jpeg(real_fundus()), "image/jpeg")
    assert result.details["image_quality"] == "adequate"
    assert abs(result.details["optic_disc_x"] - 0.156) < 0.03 and abs(result.details["optic_disc_y"] - 0.469) < 0.03
    assert 6 <= result.biomarkers["vessel_density"] <= 18
    assert 1.0 <= result.biomarkers["vessel_tortuosity"] < 1.10
    assert result.risk_score == 0 and result.risk_level == "low" and result.confidence is None
    image = Image.open(io.BytesIO(result.explanation_image_png))
    assert image.format == "PNG" and max(image.size) == field.WORKING_SIZE


def test_measures_do_not_depend_on_the_cameras_resolution_or_compression():
    # The same eye at 1411 px (JPEG 95) and at 600 px (JPEG 70): both are resampled to the working size, so
    # the measures should agree. 10% for density: the 600 px copy has lost the finest vessels to resampling
    # (on this photo 10.8% against 11.9%); 0.01 for tortuosity (1.024-1.026 at 600-2000 px).
    def measured(size: int, quality: int):
        photo = np.asarray(
            Image.open(
                io.BytesIO(
                    jpeg(
                        np.asarray(Image.fromarray(real_fundus()).resize((size, size), Image.Resampling.LANCZOS)),
                        quality,
                    )
                )
            )
        )
        work = field.working_image(photo)
        mask = retinal_vessels.segment_vessels(work)
        return 100 * mask[work.region].mean(), measure.tortuosity(mask)[0], retinal_quality.assess_quality(work).grade

    full, small = measured(1411, 95), measured(600, 70)
    assert abs(small[0] / full[0] - 1) < 0.10, (small, full)
    assert abs(small[1] - full[1]) < 0.01 and small[2] == full[2] == "adequate"


def test_the_skeleton_walk_is_compiled_as_a_worker_starts_not_by_the_first_analysis():
    """skan compiles its walk with numba on first use (seconds, once per process). A worker that consumes the
    retinal queue compiles it in worker_init, before it takes a task; a prefork child forked after that
    inherits the compiled code. Then the first measure takes milliseconds, in the worker and in a child.
    A fresh interpreter, so that nothing is compiled already; it must not import torch either."""
    import subprocess
    import sys

    code = (
        "import json, os, sys, time, django; django.setup()\n"
        "import numpy as np\n"
        "from celery.signals import worker_init\n"
        "import medilens.celery\n"
        "app = medilens.celery.app\n"
        "app.amqp.queues.select(['default'])\n"
        "started = time.perf_counter()\n"
        "worker_init.send(sender=type('Worker', (), {'app': app, 'pool_cls': 'prefork'})())\n"
        "compiled = time.perf_counter() - started\n"
        "from modalities.retinal.measure import centreline_segments\n"
        "mask = np.zeros((64, 64), bool); mask[20:23, 4:60] = True; mask[4:60, 30:33] = True\n"
        "def first_measure():\n"
        "    started = time.perf_counter(); segments = centreline_segments(mask)\n"
        "    return len(segments), time.perf_counter() - started\n"
        "reading, writing = os.pipe()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    os.write(writing, json.dumps(first_measure()).encode()); os._exit(0)\n"
        "os.waitpid(child, 0)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'compiled': compiled, 'worker': first_measure(),\n"
        "                  'child': json.loads(os.read(reading, 200))}))\n"
    )
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    measured = json.loads(finished.stdout.strip().splitlines()[-1])
    assert measured["torch"] is False, "torch waits for the first inference"
    for segments, seconds in (measured["worker"], measured["child"]):
        assert segments >= 4, "a cross has four arms"
        assert seconds < 0.5, measured


def test_a_worker_that_never_runs_the_retinal_analysis_compiles_nothing():
    from types import SimpleNamespace

    import medilens.celery

    inference_only = SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={"inference": None})))
    assert medilens.celery.warm_up(inference_only) is None


def test_a_blurred_photo_is_measured_but_not_scored():
    blurred = np.asarray(Image.fromarray(real_fundus()).filter(ImageFilter.GaussianBlur(4)))
    result = analyze(png(blurred))
    assert result.details["image_quality"] == "poor"
    assert result.risk_score is None and result.risk_level == ""
    assert "out of focus" in result.score_withheld
    assert result.recommendations[0]["text"].startswith("Retake the photograph")
    assert "vessel_density" in result.biomarkers


def test_a_red_free_photo_is_analysed_from_its_single_channel(straight_photo):
    photo, colour = straight_photo
    grey = np.asarray(Image.fromarray(photo.rgb).convert("L"))
    result = analyze(png(grey))
    assert result.details["red_free_photo"] is True
    # The same drawn vessels, seen through the luminance instead of the green channel: the same area within 10%.
    assert abs(result.biomarkers["vessel_density"] / colour.biomarkers["vessel_density"] - 1) < 0.10


def test_risk_rule_steps():
    assert rule.risk(density=10.0, tortuosity_mean=1.05)[:2] == (0, "low")
    assert rule.risk(density=10.0, tortuosity_mean=1.10)[:2] == (25, "borderline")
    assert rule.risk(density=7.9, tortuosity_mean=1.05)[:2] == (25, "borderline")
    assert rule.risk(density=4.9, tortuosity_mean=1.05)[:2] == (50, "intermediate")
    assert rule.risk(density=6.0, tortuosity_mean=1.25)[:2] == (75, "high")
    assert rule.risk(density=3.0, tortuosity_mean=1.30)[:2] == (100, "high")
    score, _, contributions = rule.risk(density=6.0, tortuosity_mean=None)
    assert score == 25 and contributions[0].change == 0


def test_demo_cases_are_three_fundus_pngs_that_analyse():
    cases = registry.demo_cases("retinal")
    assert len(cases) == 3
    for case in cases:
        ((name, data),) = case.files
        assert name.endswith(".png") and data[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (SIZE, SIZE) and image.mode == "RGB"


# --- bad inputs, at the analyzer ------------------------------------------------------------------------------
def test_a_black_photo_fails_with_a_readable_reason():
    with pytest.raises(AnalysisError, match=r"^The photo is black: its brightest 1% of pixels reach 0 of 255"):
        analyze(png(np.zeros((SIZE, SIZE, 3), np.uint8)))


def test_a_featureless_field_fails_with_a_readable_reason():
    flat = synthetic.synthetic_fundus(SIZE, noise=0.0)
    rgb = flat.rgb.copy()
    rgb[flat.field] = (190, 90, 40)  # one flat colour inside the field
    with pytest.raises(AnalysisError, match="no detail inside the field of view"):
        analyze(png(rgb))


def test_a_photo_without_a_vessel_tree_fails_with_a_readable_reason():
    # A field with vignetting, a disc and noise but no vessel: the relative thresholds segment the noise.
    with pytest.raises(AnalysisError, match=r"^No retinal vessel tree stands out: vessel-like texture covers \d+%"):
        analyze(png(synthetic.synthetic_fundus(SIZE, seed=4).rgb))
    # One thin vessel is not a tree either (0.3% of the field).
    one = synthetic.synthetic_fundus(SIZE, [(synthetic.vessel_path((250, 300), (770, 330)), 2)], seed=4)
    with pytest.raises(AnalysisError, match=r"^No retinal vessel tree was found \(vessels cover 0\.\d+% of the field"):
        analyze(png(one.rgb))


def test_a_small_field_in_a_large_frame_fails_with_a_readable_reason():
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[450:560, 450:560] = (200, 90, 40)  # 1% of the frame is lit
    with pytest.raises(AnalysisError, match=r"the illuminated area covers 1% of the photo"):
        analyze(png(rgb))


def test_a_corrupt_stored_image_fails_with_a_readable_reason():
    data = jpeg(synthetic.synthetic_fundus(SIZE).rgb)
    with pytest.raises(AnalysisError, match="cannot be decoded"):
        analyze(data[: len(data) // 2], "image/jpeg")


def test_prepare_files_refuses_two_photos_a_tiny_one_and_a_black_one():
    from assessments.uploads import PreparedUpload

    def prepared(data, name="fundus.png"):
        return PreparedUpload(name, "image/png", "png", len(data), "0" * 64, "0" * 64, io.BytesIO(data))

    analyzer = registry.get("retinal")
    photo = png(synthetic.synthetic_fundus(600).rgb)
    assert analyzer.prepare_files([prepared(photo)])[0].content.read() == photo  # rewound, unchanged
    with pytest.raises(InputError, match=r"exactly one fundus photograph \(got 2 files\)"):
        analyzer.prepare_files([prepared(photo), prepared(photo)])
    with pytest.raises(InputError, match=r"32x32 pixels; fundus analysis needs at least 512 pixels"):
        analyzer.prepare_files([prepared(png(np.full((32, 32, 3), 128, np.uint8)))])
    with pytest.raises(InputError, match="the photo is black"):
        analyzer.prepare_files([prepared(png(np.zeros((600, 800, 3), np.uint8)))])


# --- through the API --------------------------------------------------------------------------------------------
URL = "/api/v1/assessments/"


@pytest.fixture
def patient(tenant_a):
    with organization_scope(tenant_a.organization):
        return services.create_patient(
            actor="system:test",
            organization=tenant_a.organization,
            consent=True,
            mrn="RET-1",
            given_name="Ada",
            family_name="Example",
            date_of_birth=date(1966, 5, 1),
            sex_at_birth="female",
        )


def upload(tenant, patient, name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return tenant.api("clinician").post(
        URL,
        {"patient": str(patient.pk), "modality": "retinal", "files": SimpleUploadedFile(name, data)},
        format="multipart",
    )


def refused(response, status: int, fragment: str) -> str:
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert fragment in error["message"] or fragment in " ".join(error.get("fields", {}).get("files", [])), error
    with scopes_disabled():
        assert not Assessment.objects.exists() and not UploadedFile.objects.exists()
    return error["message"]


@pytest.mark.django_db
def test_bad_uploads_are_clear_4xx_and_store_nothing(tenant_a, patient):
    photo = jpeg(synthetic.synthetic_fundus(600).rgb)
    refused(upload(tenant_a, patient, "empty.jpg", b""), 400, "empty")
    refused(upload(tenant_a, patient, "letter.jpg", b"Dear colleague,\nthis is not a photo.\n" * 20), 415, "text/plain")
    refused(upload(tenant_a, patient, "cut.jpg", photo[: len(photo) // 2]), 400, "truncated or corrupt")
    # Absurd dimensions, read from the header before any pixel is decoded: over this modality's 40 MP cap a
    # 413; past twice Pillow's bomb limit (179 MP), as a 20000x20000 header is, Pillow refuses it: also a 413.
    refused(upload(tenant_a, patient, "big.png", _png_declaring(8000, 6000)), 413, "48,000,000 pixels")
    refused(upload(tenant_a, patient, "huge.png", _png_declaring(20000, 20000)), 413, "more pixels than allowed")
    refused(upload(tenant_a, patient, "tiny.png", png(np.full((32, 32, 3), 128, np.uint8))), 400, "32x32 pixels")
    refused(upload(tenant_a, patient, "black.png", png(np.zeros((768, 1024, 3), np.uint8))), 400, "the photo is black")


def _png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (CRC fixed so that it parses)."""
    import struct
    import zlib

    data = bytearray(png(np.zeros((8, 8, 3), np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.django_db
def test_a_tiff_is_accepted_and_stored_as_png(tenant_a, patient):
    buffer = io.BytesIO()
    Image.fromarray(synthetic.synthetic_fundus(600).rgb).save(buffer, format="TIFF")
    response = upload(tenant_a, patient, "fundus.tif", buffer.getvalue())
    assert response.status_code == 201, response.content[:500]
    (stored,) = response.json()["files"]
    assert stored["content_type"] == "image/png"
    assert stored["filename"] == f"retinal-{timezone.localdate().isoformat()}-1.png"  # neutral, not the upload's


@pytest.mark.django_db
def test_a_fundus_photo_completes_end_to_end_with_biomarkers_ranges_and_overlay(tenant_a, patient):
    response = upload(tenant_a, patient, "fundus.jpg", jpeg(real_fundus()))
    assert response.status_code == 201, response.content[:500]
    assessment_id = response.json()["id"]
    with organization_scope(tenant_a.organization):
        assert pipeline.run(assessment_id) == "completed"
    body = tenant_a.api("read_only").get(f"{URL}{assessment_id}/").json()
    assert body["status"] == "completed" and body["risk_level"] == "low" and body["confidence"] is None
    assert [s["status"] for s in body["stages"]] == ["completed"] * len(retinal.RetinalAnalyzer.modality.stages)
    markers = {b["name"]: b for b in body["biomarkers"]}
    assert set(markers) == {"vessel_density", "vessel_tortuosity"}
    assert markers["vessel_density"]["unit"] == "%" and markers["vessel_tortuosity"]["unit"] == "ratio"
    for marker in markers.values():
        assert (
            marker["reference_range"]["low"] is None
            and marker["reference_range"]["high"] is None
            and marker["flag"] == "none"
        )
    assert body["explanation"]["has_image"] is True and "optic disc" in body["explanation"]["summary"]
    assert 0.12 < body["results"]["details"]["optic_disc_x"] < 0.19
    assert "arteriole_venule_ratio" in [item["name"] for item in body["results"]["not_applicable"]]
    assert body["method_version"] == retinal_analyzer.METHOD_VERSION


@pytest.mark.django_db
def test_a_photo_that_passes_upload_but_shows_nothing_fails_readably(tenant_a, patient):
    flat = synthetic.synthetic_fundus(SIZE, noise=0.0)
    rgb = flat.rgb.copy()
    rgb[flat.field] = (190, 90, 40)
    response = upload(tenant_a, patient, "flat.png", png(rgb))
    assert response.status_code == 201, response.content[:500]
    with organization_scope(tenant_a.organization):
        assert pipeline.run(response.json()["id"]) == "failed"
    body = tenant_a.api("read_only").get(f"{URL}{response.json()['id']}/").json()
    assert body["failure_reason"].startswith("The photo shows no detail inside the field of view (contrast 0.0")
    assert [s["status"] for s in body["stages"]][:4] == ["completed", "completed", "failed", "pending"]
