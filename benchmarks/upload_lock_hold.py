"""Row lock held while a document is attached: how long another transaction waits for the assessment's row
while ``add_attachments`` stores a large file in S3 (issue 16: no storage I/O under a database lock).

    .venv/bin/python benchmarks/upload_lock_hold.py [--size-mb 50] [--rounds 3]

1. A real S3 server (medilens.testing.s3server.SeaweedS3Server, authentication on) and a bucket; the bench
   database (production settings: PostgreSQL with its pool, Redis).
2. An organization, a patient and a queued cvd_risk assessment (no worker runs).
3. ``--rounds`` times: ``size-mb`` MB of PDF attached through ``services.add_attachments`` in this thread,
   while a prober thread, on its own connection, locks the assessment's row again and again
   (``SELECT ... FOR UPDATE``, as the worker's claim and its results do), noting how long each lock took.
4. Printed: the attachment's wall time, and the prober's longest and median wait for the lock. The longest
   wait is an upper bound of how long the row stayed locked by the attachment; before the change it was
   the whole upload.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import Bench, machine, percentile, table  # noqa: E402

MB = 1024 * 1024
BUCKET = "medilens-bench"
PROBE_PAUSE_SECONDS = 0.002


def write_pdf(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.write(b"%PDF-1.4\n")
        remaining = size - 9
        while remaining > 0:
            chunk = secrets.token_bytes(min(MB, remaining))
            handle.write(chunk)
            remaining -= len(chunk)


class LockProber(threading.Thread):
    """Locks the row again and again on this thread's own connection; keeps each wait."""

    def __init__(self, assessment_id):
        super().__init__(daemon=True)
        self.assessment_id = assessment_id
        self.waits: list[float] = []
        self.done = threading.Event()

    def run(self):
        from django.db import connection, transaction

        from accounts.tenancy import scopes_disabled
        from assessments.models import Assessment

        try:
            while not self.done.is_set():
                with scopes_disabled(), transaction.atomic():
                    began = time.perf_counter()
                    Assessment.objects.select_for_update().filter(pk=self.assessment_id).values_list("pk").first()
                    self.waits.append(time.perf_counter() - began)
                time.sleep(PROBE_PAUSE_SECONDS)
        finally:
            connection.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from medilens.testing.s3server import SeaweedS3Server

    bench = Bench("upload_lock_hold")
    server = SeaweedS3Server(bench.tmp / "seaweed", secrets.token_hex(10), secrets.token_hex(20))
    server.start()
    try:
        server.create_bucket(BUCKET)
        bench.extra_env.update(server.settings_env(BUCKET))
        with bench:
            return run(args, bench.tmp)
    finally:
        server.stop()


def run(args, workdir: Path) -> int:
    from django.core.files import File

    from accounts.models import Organization
    from accounts.tenancy import organization_scope
    from assessments import services

    organization = Organization.objects.create(name="Bench Clinic", slug="bench-clinic")
    with organization_scope(organization):
        patient = services.create_patient(
            actor="system:bench", organization=organization, consent=True, mrn="B-1", given_name="Bench",
            family_name="Lock", date_of_birth=date(1970, 1, 1), sex_at_birth="female",
        )
        assessment = services.create_assessment(
            actor="system:bench", organization=organization, patient=patient, modality="cvd_risk",
            inputs={"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120, "egfr": 90},
        )
    path = workdir / "large.pdf"
    write_pdf(path, args.size_mb * MB - 256 * 1024)
    rows = []
    try:
        for round_number in range(1, args.rounds + 1):
            prober = LockProber(assessment.pk)
            prober.start()
            began = time.perf_counter()
            with organization_scope(organization), open(path, "rb") as handle:
                services.add_attachments(
                    actor="system:bench", assessment=assessment, files=[File(handle, name="large.pdf")]
                )
            upload_seconds = time.perf_counter() - began
            prober.done.set()
            prober.join(30)
            waits_ms = [wait * 1000 for wait in prober.waits]
            rows.append([round_number, upload_seconds, len(waits_ms), max(waits_ms), percentile(waits_ms, 50)])
    finally:
        path.unlink(missing_ok=True)
    print(machine())
    print(table(
        ["round", "attach s", "lock probes", "longest wait ms", "p50 wait ms"], rows,
        title=f"add_attachments of a {args.size_mb} MB PDF to S3 while another transaction locks the row",
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
