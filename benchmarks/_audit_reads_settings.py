"""Settings for benchmarks/audit_reads.py's web server: production settings, with the collected static files
in the benchmark's temporary directory (collectstatic runs there first), so pages render with the manifest
storage production uses and nothing is written into the checkout."""

import os

from medilens.settings import *  # noqa: F403

STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
