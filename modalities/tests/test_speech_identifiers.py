"""No identifiers in a stored recording: every accepted audio format, uploaded through the API with a name, an
MRN and a birth date planted in each of its tag kinds (``speech_signals`` writes them byte by byte), is stored
without any of them, and the stored file analyses to the same numbers as the upload."""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import subprocess

import pytest
import soundfile

from . import speech_signals as signals
from .test_speech_truth import analyze

URL = "/api/v1/assessments/"
RATE = 44100


@pytest.fixture
def patient(tenant_a):
    from assessments.tests.helpers_api import make_patient

    return make_patient(tenant_a, sex_at_birth="female")


def _voice():
    voice = signals.glottal_vowel(210.0, RATE, 3.0)
    return voice + signals.white_noise(voice, 18.0, seed=9)


def _stored(tenant, patient, s3_server, s3_bucket, name, data, content_type):
    """POST the recording; return (assessment id, the stored row, the stored bytes)."""
    from accounts.tenancy import scopes_disabled
    from assessments.models import UploadedFile
    from assessments.tests.helpers_api import multipart_create, s3_client, upload

    response = tenant.api("clinician").post(
        URL,
        multipart_create(
            patient,
            modality="speech",
            inputs={"task": "sustained_vowel"},
            files=upload(name, data, content_type),
        ),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    with scopes_disabled():
        row = UploadedFile.objects.get(assessment_id=response.json()["id"])
    stored = s3_client(s3_server).get_object(Bucket=s3_bucket, Key=row.storage_key)["Body"].read()
    return response.json()["id"], row, stored


def _same_numbers(original: bytes, stored: bytes) -> None:
    before, after = analyze(original), analyze(stored)
    assert after.biomarkers == before.biomarkers and after.risk_score == before.risk_score
    assert after.details == before.details


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, build, content_type, container",
    [
        ("ZZTEST_Alice_voice.wav", signals.wav_with_identifiers, "audio/wav", b"RIFF"),
        ("voice.mp3", signals.mp3_with_identifiers, "audio/mpeg", b"\xff"),
        ("voice.flac", signals.flac_with_identifiers, "audio/flac", b"fLaC"),
        ("voice.ogg", signals.ogg_vorbis_with_identifiers, "audio/ogg", b"OggS"),
    ],
)
def test_a_recording_is_stored_without_the_identifiers_in_its_tags(
    tenant_a, patient, s3_server, s3_bucket, name, build, content_type, container
):
    data = build(_voice(), RATE)
    assert len(signals.found_identifiers(data)) >= 3  # planted: every identifier is in the upload
    _, row, stored = _stored(tenant_a, patient, s3_server, s3_bucket, name, data, content_type)
    assert signals.found_identifiers(stored) == []
    assert stored[: len(container)] == container and len(stored) < len(data)
    assert row.size == len(stored) and row.sha256_stored == hashlib.sha256(stored).hexdigest()
    assert row.sha256_original == hashlib.sha256(data).hexdigest()
    original, cleaned = soundfile.read(io.BytesIO(data)), soundfile.read(io.BytesIO(stored))
    assert cleaned[1] == original[1] and (cleaned[0] == original[0]).all()  # the same samples, not re-encoded
    _same_numbers(data, stored)


@pytest.mark.django_db
def test_a_wav_keeps_only_its_format_and_data_chunks_and_the_worker_measures_what_was_uploaded(
    tenant_a, patient, s3_server, s3_bucket
):
    from accounts.tenancy import organization_scope
    from assessments import pipeline

    data = signals.wav_with_identifiers(_voice(), RATE)
    assessment_id, _, stored = _stored(tenant_a, patient, s3_server, s3_bucket, "voice.wav", data, "audio/wav")
    chunks, position = [], 12
    while position < len(stored):
        chunk, size = struct.unpack("<4sI", stored[position : position + 8])
        chunks.append(chunk)
        position += 8 + size + (size & 1)
    assert stored[:4] == b"RIFF" and struct.unpack("<I", stored[4:8])[0] == len(stored) - 8
    assert chunks == [b"fmt ", b"data"] and position == len(stored)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(assessment_id) == "completed"
    body = tenant_a.api("clinician").get(f"{URL}{assessment_id}/").json()
    expected = analyze(data)
    assert {b["name"]: b["value"] for b in body["biomarkers"]} == expected.biomarkers
    assert body["risk_score"] == expected.risk_score


@pytest.mark.django_db
def test_a_streamed_wav_with_placeholder_sizes_is_stored_with_its_real_sizes(tenant_a, patient, s3_server, s3_bucket):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng (Debian package espeak-ng) is not installed: no streamed WAV to test with")
    # espeak-ng writing to a pipe cannot know the length: its RIFF and data sizes are placeholders.
    streamed = subprocess.run(
        ["espeak-ng", "-v", "en", "--stdout", "Please say aaah for as long as you can."],
        capture_output=True,
        check=True,
    ).stdout
    declared = struct.unpack("<I", streamed[40:44])[0]
    assert streamed[36:40] == b"data" and declared != len(streamed) - 44
    _, _, stored = _stored(tenant_a, patient, s3_server, s3_bucket, "voice.wav", streamed, "audio/wav")
    assert struct.unpack("<I", stored[4:8])[0] == len(stored) - 8
    assert stored[36:40] == b"data" and struct.unpack("<I", stored[40:44])[0] == len(stored) - 44
    assert (soundfile.read(io.BytesIO(stored))[0] == soundfile.read(io.BytesIO(streamed))[0]).all()


@pytest.mark.django_db
def test_an_rf64_file_whose_tags_cannot_be_removed_is_refused_and_nothing_is_stored(
    tenant_a, patient, s3_server, s3_bucket
):
    from assessments.tests.helpers_api import assert_error, multipart_create, nothing_stored, upload

    # libmagic calls RF64 (the 64-bit WAV) audio/x-wav and libsndfile decodes it, tags included.
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", RATE, 1, format="RF64", subtype="PCM_16") as audio:
        audio.title = signals.NAME
        audio.write(_voice())
    data = buffer.getvalue()
    assert data[:4] == b"RF64" and signals.found_identifiers(data)
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(
            URL,
            multipart_create(patient, modality="speech", files=upload("voice.wav", data, "audio/wav")),
            format="multipart",
        )
    [message] = assert_error(response, 400, field="files")["fields"]["files"]
    assert "not a standard WAV, FLAC, OGG or MP3 file, so its tags cannot be removed" in message
