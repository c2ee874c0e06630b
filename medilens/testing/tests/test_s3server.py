"""The S3 test server refuses what production refuses: these tests are what make the storage tests
that use it mean anything. Plain pytest, no Django: run with ``-p no:django`` or under pytest-django."""

import io
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from medilens.testing.s3server import S3ServerError, SeaweedS3Server
from medilens.testing.wait import wait_until

BUCKET = "private-media"
KEY = "org/1/assessments/2/first.bin"
OTHER_KEY = "org/1/assessments/2/second.bin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("seaweed")
    with SeaweedS3Server(workdir, secrets.token_hex(10), secrets.token_hex(20)) as started:
        yield started


@pytest.fixture(scope="module")
def objects(server: SeaweedS3Server) -> dict[str, bytes]:
    """Two objects in a private bucket, so a refusal below can never be a plain 404."""
    server.create_bucket(BUCKET)
    client = server.client()
    bodies = {KEY: secrets.token_bytes(1024), OTHER_KEY: secrets.token_bytes(512)}
    for key, body in bodies.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    return bodies


def fetch(url: str, *, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    """Status and body of an unsigned (or presigned) request, errors included."""
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_put_get_round_trip(server: SeaweedS3Server, objects: dict[str, bytes]) -> None:
    client = server.client()
    body = secrets.token_bytes(4096)
    client.put_object(Bucket=BUCKET, Key="round/trip.bin", Body=body, ContentType="application/octet-stream")

    got = client.get_object(Bucket=BUCKET, Key="round/trip.bin")
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="round/")["Contents"]
    assert [entry["Key"] for entry in listed] == ["round/trip.bin"]

    client.delete_object(Bucket=BUCKET, Key="round/trip.bin")
    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket=BUCKET, Key="round/trip.bin")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_multipart_upload_round_trip(server: SeaweedS3Server, objects: dict[str, bytes]) -> None:
    # upload_fileobj goes multipart above 8 MiB, as django-storages does for a large X-ray.
    client = server.client()
    body = os.urandom(9 * 1024 * 1024)
    client.upload_fileobj(io.BytesIO(body), BUCKET, "large/xray.dcm")
    assert client.get_object(Bucket=BUCKET, Key="large/xray.dcm")["Body"].read() == body
    client.delete_object(Bucket=BUCKET, Key="large/xray.dcm")


def test_wrong_secret_is_refused_and_writes_nothing(
    server: SeaweedS3Server, objects: dict[str, bytes]
) -> None:
    intruder = server.client(
        secret_key=server.secret_key[:-1] + ("0" if server.secret_key[-1] != "0" else "1")
    )

    with pytest.raises(ClientError) as read:
        intruder.get_object(Bucket=BUCKET, Key=KEY)
    assert read.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_code(read.value) == "SignatureDoesNotMatch"

    with pytest.raises(ClientError) as write:
        intruder.put_object(Bucket=BUCKET, Key="intruder.txt", Body=b"x")
    assert write.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as missing:
        server.client().head_object(Bucket=BUCKET, Key="intruder.txt")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unknown_access_key_is_refused(server: SeaweedS3Server, objects: dict[str, bytes]) -> None:
    stranger = server.client(access_key="AKNOTAREALKEY0000000")
    with pytest.raises(ClientError) as read:
        stranger.get_object(Bucket=BUCKET, Key=KEY)
    assert read.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_anonymous_requests_are_refused(server: SeaweedS3Server, objects: dict[str, bytes]) -> None:
    url = f"{server.endpoint_url}/{BUCKET}/{KEY}"

    status, body = fetch(url)
    assert status == 403, body
    assert objects[KEY] not in body

    status, _ = fetch(f"{server.endpoint_url}/{BUCKET}?list-type=2")
    assert status == 403

    status, _ = fetch(f"{server.endpoint_url}/{BUCKET}/anonymous.txt", method="PUT", data=b"x")
    assert status == 403
    with pytest.raises(ClientError):
        server.client().head_object(Bucket=BUCKET, Key="anonymous.txt")


def test_presigned_get_works_and_tampering_is_refused(
    server: SeaweedS3Server, objects: dict[str, bytes]
) -> None:
    client = server.client()
    url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=300)

    status, body = fetch(url)
    assert status == 200
    assert body == objects[KEY]

    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    signature = query["X-Amz-Signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    query["X-Amz-Signature"] = [flipped]
    tampered_signature = parts._replace(query=urllib.parse.urlencode(query, doseq=True)).geturl()
    status, body = fetch(tampered_signature)
    assert status == 403
    assert objects[KEY] not in body

    # The other object exists: only the signature, which covers the key, can refuse this.
    other_path = parts.path.replace(urllib.parse.quote(KEY), urllib.parse.quote(OTHER_KEY))
    assert other_path != parts.path
    status, body = fetch(parts._replace(path=other_path).geturl())
    assert status == 403
    assert objects[OTHER_KEY] not in body


def test_expired_presigned_url_is_refused(server: SeaweedS3Server, objects: dict[str, bytes]) -> None:
    client = server.client()
    params = {"Bucket": BUCKET, "Key": KEY}
    short = client.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    control = client.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
    # Poll until the expiry has passed (the server answers 200 until then): a condition with a deadline.
    status, body = wait_until(lambda: (answer := fetch(short))[0] != 200 and answer, timeout=30,
                              message="the one-second URL was still served")
    assert status == 403
    assert objects[KEY] not in body
    # Same object, same moment, longer expiry: what refused the short one was its expiry.
    assert fetch(control) == (200, objects[KEY])


def test_keys_are_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="authentication off"):
        SeaweedS3Server(tmp_path, "access", "")


def test_failed_start_raises_with_log_tail_and_leaves_no_process(tmp_path: Path) -> None:
    server = SeaweedS3Server(tmp_path, secrets.token_hex(10), secrets.token_hex(20))
    with pytest.raises(S3ServerError) as failure:
        server.start(timeout=0)
    message = str(failure.value)
    assert "not ready" in message
    assert "last lines of" in message
    assert f"-s3.port={server.ports['s3']}" in message  # the log's first line is the command
    assert not server.running
    assert server.pid is None
    assert server.stop() is None
    assert not processes_mentioning(str(tmp_path)), "a weed process outlived the failed start"


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def test_log_tail_keeps_the_attempts_command_however_much_follows(tmp_path: Path) -> None:
    server = SeaweedS3Server(tmp_path, secrets.token_hex(10), secrets.token_hex(20))
    server.workdir.mkdir(parents=True, exist_ok=True)
    lines = ["--- 2026-12-05T12:00:00 weed server -s3.port=8333", *(f"I1205 noise {n}" for n in range(100))]
    server.log_path.write_text("\n".join(lines) + "\n")
    tail = server.log_tail(lines=40).splitlines()
    assert tail[0] == lines[0]
    assert tail[1] == "... (60 lines left out) ..."
    assert tail[2:] == lines[-40:]
    server.log_path.write_text("\n".join(lines[:10]) + "\n")
    assert server.log_tail(lines=40).splitlines() == lines[:10]  # short logs are whole
