"""A process that serves pages or runs ``manage.py`` does not load the body-scan analysis' mesh libraries:
trimesh and SciPy cost about 1.3 s of every process start (web worker, Celery worker, command), and only an
analysis needs them: modalities/body_scan/analyzer.py imports them on its first run (test_api's completed scans
run it)."""

import os
import subprocess
import sys

HEAVY = ("trimesh", "scipy", "shapely")


def test_starting_django_and_its_urls_does_not_import_the_mesh_libraries():
    code = (
        "import sys, django; django.setup(); "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "import modalities.services, modalities.admin, medilens.celery, modalities.body_scan.analyzer; "
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules) or 'none')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "medilens.test_settings"},
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "none"
