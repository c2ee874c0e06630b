"""What the single-modality benchmarks (modality_*.py) share: the project on the import path, Django set up on
the embedded default in a scratch folder, a percentile, the resident set's peak, and a stage recorder that
records nothing. They measure one analyzer in this process: no database, no storage server, no worker."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_django(name: str) -> None:
    """Django on the settings the benchmark's environment names (the embedded default when it names none), with
    its var folder in a scratch directory of its own."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")
    os.environ.setdefault("MEDILENS_VAR_DIR", tempfile.mkdtemp(prefix=f"medilens-bench-{name}-"))
    import django

    django.setup()


def percentile(values, q):
    """The value at rank round(q% of n-1) of the sorted values (q in 0-100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def no_stage(_name):
    """The analysis context's stage recorder, recording nothing (the pipeline's writes are not measured here)."""
    yield
