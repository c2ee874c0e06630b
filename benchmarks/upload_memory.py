"""Upload memory: peak RSS growth of the web process while it takes a ~100 MB attachment through the API
and stores it in S3.

    .venv/bin/python benchmarks/upload_memory.py [--size-mb 100]

1. A real S3 server (medilens.testing.s3server.SeaweedS3Server, authentication on) and a bucket.
2. In this process, against the bench database: an organization, a patient, a cvd_risk assessment (no
   worker runs; its message waits in Redis and is removed at the end) and an API key.
3. The web app in a subprocess: gunicorn, 1 sync worker, on 127.0.0.1:<free port>, production settings
   with the S3 variables (AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, keys, path-style).
4. A warm-up upload of 1 MB through the same endpoint (first-request imports, the boto3 client), then the
   baseline RSS of the gunicorn worker (psutil: the master's child).
5. ``size-mb`` MB of PDF (b"%PDF-1.4\\n" then random bytes) written to a temporary file and streamed from
   disk by the client (http.client, 1 MB sends, explicit Content-Length: the client never holds the
   file) as multipart/form-data to POST /api/v1/assessments/<id>/attachments/ with the Bearer key, while
   a thread samples the worker's RSS every 20 ms.
6. Checks: HTTP 201, and the stored object's size in S3 (HEAD) equals the file's size, and its SHA-256
   is the one the API reports.

The default upload limit is MAX_UPLOAD_MB=100 (MiB): the default size, 100 MiB minus 256 KiB, is just
under it. A larger --size-mb raises MAX_UPLOAD_MB for the server to fit.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT, Bench, machine, table  # noqa: E402

TARGET_GROWTH_MB = 20.0
MB = 1024 * 1024
SAMPLE_SECONDS = 0.020
BUCKET = "medilens-bench"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_pdf(path: Path, size: int) -> str:
    """A file of ``size`` bytes starting with a PDF header; returns its SHA-256."""
    digest = hashlib.sha256()
    head = b"%PDF-1.4\n"
    with path.open("wb") as out:
        out.write(head)
        digest.update(head)
        left = size - len(head)
        while left > 0:
            chunk = os.urandom(min(MB, left))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


class RssSampler(threading.Thread):
    def __init__(self, process, interval: float = SAMPLE_SECONDS):
        super().__init__(daemon=True)
        self.process = process
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self):
        import psutil

        while not self._halt.is_set():
            try:
                self.samples.append((time.monotonic(), self.process.memory_info().rss))
            except psutil.Error:
                break
            time.sleep(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        self._halt.set()
        self.join(5)
        return self.samples


def post_file(port: int, path: str, key: str, file_path: Path, filename: str) -> tuple[int, bytes, float]:
    """Multipart POST streamed from disk; returns (status, body, seconds)."""
    boundary = "----medilens-bench-" + secrets.token_hex(12)
    preamble = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        f"Content-Type: application/pdf\r\n\r\n"
    ).encode()
    epilogue = f"\r\n--{boundary}--\r\n".encode()
    size = file_path.stat().st_size
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.monotonic()
    connection.putrequest("POST", path)
    connection.putheader("Authorization", f"Bearer {key}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(preamble) + size + len(epilogue)))
    connection.endheaders()
    connection.send(preamble)
    with file_path.open("rb") as source:
        while chunk := source.read(MB):
            connection.send(chunk)
    connection.send(epilogue)
    response = connection.getresponse()
    body = response.read()
    seconds = time.monotonic() - started
    connection.close()
    return response.status, body, seconds


def start_gunicorn(bench: Bench, port: int, *, s3_options: str = ""):
    import psutil

    env = dict(os.environ)
    if s3_options:
        env["DJANGO_SETTINGS_MODULE"] = "_s3_variant_settings"
        env["BENCH_S3_OPTIONS"] = s3_options
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(Path(__file__).resolve().parent)])

    log = (bench.tmp / "gunicorn.log").open("ab")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "medilens.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--timeout",
        "300",
        "--log-level",
        "warning",
    ]
    # Our own fixed command line.
    master = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{(bench.tmp / 'gunicorn.log').read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        master.terminate()
        raise RuntimeError("gunicorn did not answer /healthz in 60 s")
    children = psutil.Process(master.pid).children()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {len(children)}")
    return master, children[0], log


def stop_gunicorn(master, log) -> None:
    if master.poll() is None:
        master.terminate()
        try:
            master.wait(20)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait(5)
    log.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=100, help="upload size in MiB (default 100)")
    parser.add_argument(
        "--s3-options",
        default="",
        help="experiment: JSON of S3 storage OPTIONS for the server, e.g. "
        '\'{"transfer_config": {"use_threads": true}}\' or '
        '\'{"transfer_config": {"max_concurrency": 2, "max_in_memory_upload_chunks": 2}}\' '
        "(runs gunicorn with benchmarks/_s3_variant_settings.py; application settings untouched)",
    )
    args = parser.parse_args(argv)
    if args.s3_options:
        json.loads(args.s3_options)  # fail early on bad JSON
    if not 1 <= args.size_mb <= 1000:
        parser.error("--size-mb must be 1-1000")

    limit_mb = 100
    size = int(args.size_mb * MB)
    if size > limit_mb * MB - 256 * 1024:
        if args.size_mb <= 100:
            size = limit_mb * MB - 256 * 1024  # "100 MB minus a little", under the default limit
        else:
            limit_mb = math.ceil(args.size_mb) + 1
    variant = f"; S3 storage options {args.s3_options}" if args.s3_options else ""
    print(
        f"upload_memory: {size:,} bytes ({size / MB:.2f} MiB), MAX_UPLOAD_MB={limit_mb}{variant}; {machine()}",
        flush=True,
    )

    from medilens.testing.s3server import SeaweedS3Server

    bench = Bench("upload_memory")
    server = SeaweedS3Server(bench.tmp / "seaweed", secrets.token_hex(10), secrets.token_hex(20))
    master = log = None
    try:
        server.start(timeout=60)
        server.create_bucket(BUCKET)
        print(f"[setup] S3 server at {server.endpoint_url} ready in {server.startup_seconds:.1f} s", flush=True)
        bench.extra_env.update({**server.settings_env(BUCKET), "MAX_UPLOAD_MB": str(limit_mb)})
        bench.setup()

        from accounts.models import Organization
        from accounts.services import create_api_client
        from accounts.tenancy import organization_scope, scopes_disabled
        from assessments import services
        from assessments.models import UploadedFile

        organization = Organization.objects.create(name="Bench Clinic", slug="bench-clinic")
        with organization_scope(organization):
            patient = services.create_patient(
                actor="system:bench",
                organization=organization,
                consent=True,
                mrn="B-1",
                given_name="Bench",
                family_name="Upload",
                date_of_birth=date(1970, 1, 1),
                sex_at_birth="female",
            )
            assessment = services.create_assessment(
                actor="system:bench",
                organization=organization,
                patient=patient,
                modality="cvd_risk",
                inputs={"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120, "egfr": 90},
            )
        _, key = create_api_client(
            acting_user="system:bench", organization=organization, name="Partner EHR", access="clinician"
        )
        endpoint = f"/api/v1/assessments/{assessment.pk}/attachments/"

        warm_path = bench.tmp / "warmup.pdf"
        write_pdf(warm_path, MB)
        big_path = bench.tmp / "large.pdf"
        began = time.monotonic()
        expected_sha = write_pdf(big_path, size)
        print(f"[setup] wrote {big_path.name} ({size:,} bytes) in {time.monotonic() - began:.1f} s", flush=True)

        port = free_port()
        master, worker, log = start_gunicorn(bench, port, s3_options=args.s3_options)
        cold_rss = worker.memory_info().rss
        status, body, _ = post_file(port, endpoint, key, warm_path, "warm-up.pdf")
        if status != 201:
            raise RuntimeError(f"warm-up upload: HTTP {status}: {body[:500]!r}")
        time.sleep(0.5)
        baseline = worker.memory_info().rss
        print(
            f"[run] gunicorn worker pid {worker.pid}: RSS {cold_rss / MB:.1f} MiB cold, "
            f"{baseline / MB:.1f} MiB after a 1 MiB warm-up upload",
            flush=True,
        )

        sampler = RssSampler(worker)
        sampler.start()
        time.sleep(0.1)
        status, body, seconds = post_file(port, endpoint, key, big_path, "large-report.pdf")
        time.sleep(0.2)
        samples = sampler.stop()
        after = worker.memory_info().rss
        if status != 201:
            raise RuntimeError(f"upload: HTTP {status}: {body[:500]!r}")
        files = json.loads(body)
        row = files[0]
        with scopes_disabled():
            stored = UploadedFile.objects.get(pk=row["id"])
        head = server.client().head_object(Bucket=BUCKET, Key=stored.storage_key)
        s3_size = head["ContentLength"]
        checks = {
            "HTTP 201": status == 201,
            "S3 object size == file size": s3_size == size,
            "row size == file size": stored.size == size == row["size"],
            "SHA-256 reported == file's": row["sha256"] == expected_sha,
        }
        peak = max(rss for _, rss in samples)
        growth = (peak - baseline) / MB
        peak_at = next(t for t, rss in samples if rss == peak) - samples[0][0]
        print()
        print(
            table(
                ["figure", "value"],
                [
                    ["upload size", f"{size / MB:.2f} MiB ({size:,} bytes)"],
                    ["request time (client: send + response)", f"{seconds:.2f} s ({size / MB / seconds:.1f} MiB/s)"],
                    ["RSS samples (every 20 ms)", f"{len(samples)}"],
                    ["worker RSS cold (before any request)", f"{cold_rss / MB:.1f} MiB"],
                    ["baseline RSS (after 1 MiB warm-up upload)", f"{baseline / MB:.1f} MiB"],
                    ["peak RSS during the upload", f"{peak / MB:.1f} MiB (at {peak_at:.2f} s)"],
                    [
                        "peak growth over baseline",
                        f"{growth:.1f} MiB (target < {TARGET_GROWTH_MB:.0f} MiB: "
                        f"{'met' if growth < TARGET_GROWTH_MB else 'MISSED'})",
                    ],
                    ["RSS after the response", f"{after / MB:.1f} MiB"],
                    ["stored object size in S3", f"{s3_size:,} bytes"],
                ],
                title="Upload through gunicorn (1 sync worker) to S3",
            )
        )
        print()
        for label, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAILED'}] {label}")
        # A coarse RSS timeline: every ~10% of the request.
        print()
        start = samples[0][0]
        step = max(1, len(samples) // 12)
        print(
            "RSS timeline (s from first sample: MiB): "
            + ", ".join(f"{t - start:.2f}: {rss / MB:.0f}" for t, rss in samples[::step])
        )
        print(f"[done] {machine()}")
        if not all(checks.values()):
            return 1
        return 0
    finally:
        if master is not None:
            stop_gunicorn(master, log)
        server.stop()
        bench.teardown()


if __name__ == "__main__":
    sys.exit(main())
