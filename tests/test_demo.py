"""`make demo` as a newcomer runs it: the port comes from PORT (8000 by default) and the banner names it;
the web process runs with DEBUG off, so a mistyped URL gets the portal's own 404 page (never Django's
list of URL patterns) while static files are still served; Celery's root warning is explained away."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest
from celery.exceptions import SecurityWarning

from accounts.management.commands.seed_demo import demo_port
from medilens.celery import quiet_root_warning_in_demo

ROOT = Path(__file__).resolve().parents[1]


def _procfile(name: str) -> str:
    for line in (ROOT / "Procfile.demo").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"Procfile.demo has no {name} process")


def _serve_recipe() -> str:
    makefile = (ROOT / "Makefile").read_text()
    return re.search(r"^serve:.*?\n((?:\t.*\n?)+)", makefile, flags=re.M).group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


@pytest.fixture
def demo_web(tmp_path):
    """The Procfile's web process, started the way `make serve` starts it (its variables, no DATABASE_URL:
    the embedded default), on a free port given as DEMO_PORT."""
    port = _free_port()
    command = _procfile("web").replace(".venv/bin/python", sys.executable)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
        "MEDILENS_VAR_DIR": str(tmp_path / "var"), "MEDILENS_DEMO": "1", "DEMO_PORT": str(port),
    }  # fmt: skip
    process = subprocess.Popen(
        ["bash", "-c", command], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the demo's web process did not listen on DEMO_PORT within 60 s")
    yield f"http://127.0.0.1:{port}", process
    process.terminate()
    process.wait(timeout=10)


def test_the_demo_serves_its_own_404_and_its_static_files_with_debug_off(demo_web):
    url, _process = demo_web
    status, content_type, body = _get(f"{url}/no-such-page/")
    assert status == 404 and content_type.startswith("text/html")
    assert "<h1>Page not found</h1>" in body and "MediLens" in body
    # Django's technical 404 (DEBUG on) lists every URL pattern of the project.
    assert "URLconf" not in body and "admin/" not in body
    status, content_type, _body = _get(f"{url}/static/css/medilens.css")
    assert status == 200 and content_type.startswith("text/css")


def test_the_demo_start_prints_no_alarming_warnings(demo_web):
    url, process = demo_web
    _get(f"{url}/healthz")
    process.terminate()
    output = process.communicate(timeout=10)[0]
    assert "UserWarning" not in output and "No directory at" not in output, output


def test_make_serve_keeps_debug_off_and_passes_the_port():
    recipe = _serve_recipe()
    assert "DJANGO_DEBUG" not in recipe
    assert "DEMO_PORT=$(PORT)" in recipe and "PORTAL_BASE_URL=http://127.0.0.1:$(PORT)" in recipe
    assert re.search(r"^export PORT \?= 8000$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert "${DEMO_PORT:-8000}" in _procfile("web")


@pytest.mark.parametrize(("value", "expected"), [(None, "8000"), ("8080", "8080"), ("", "8000"), ("x", "8000")])
def test_the_banner_names_the_port_the_demo_listens_on(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("PORT", raising=False)
    else:
        monkeypatch.setenv("PORT", value)
    assert demo_port() == expected


def test_celerys_root_warning_is_silenced_only_in_the_demo_as_root(monkeypatch):
    with warnings.catch_warnings():
        monkeypatch.delenv("MEDILENS_DEMO", raising=False)
        assert quiet_root_warning_in_demo() is False
        monkeypatch.setenv("MEDILENS_DEMO", "1")
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        assert quiet_root_warning_in_demo() is False
        monkeypatch.setattr(os, "geteuid", lambda: 0)
        assert quiet_root_warning_in_demo() is True
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn(SecurityWarning("running the worker with superuser privileges"), stacklevel=1)
        assert caught == []
