"""Fixtures of the directory's tests: the shipped samples, variants of them written in the test, and a
loopback HTTP server (nothing in these tests reaches outside the machine)."""

import http.server
import threading
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FINESS_SAMPLE = SAMPLES / "etalab-cs1100507-stock-20241201-0400.csv"
OPENMEDIC_SAMPLE = SAMPLES / "OPEN_MEDIC_2024.CSV"


def sample_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("cp1252").split("\r\n")[:-1]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    release: threading.Event

    def do_GET(self):  # noqa: N802 (the standard library's name)
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route == "stall":
            # Headers, then silence until the test ends: the client's read must time out.
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            self.release.wait(30)
            return
        body, declared = route
        self.send_response(200)
        if declared != -1:  # -1: no Content-Length, the body ends when the connection closes
            self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    """serve(path, body | "stall", declared_length=None) -> URL on 127.0.0.1."""
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"routes": {}, "release": release})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(path: str, body, declared_length: int | None = None) -> str:
        handler.routes[path] = body if body == "stall" else (body, declared_length)
        return f"http://127.0.0.1:{server.server_address[1]}{path}"

    yield serve
    release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def download_dir(tmp_path, settings):
    directory = tmp_path / "downloads"
    directory.mkdir()
    settings.DIRECTORY_DOWNLOAD_DIR = str(directory)
    return directory
