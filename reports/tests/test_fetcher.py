"""What a report may load while it renders: our static files and the storage objects it lists, nothing else.
An http:// URL in the HTML is never requested (a real server counts the requests), a file:// URL is never
read, and a storage key the report did not list is not opened."""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.base import ContentFile

from assessments.tests.portal import png_bytes
from medilens import storage
from reports.rendering import html_to_pdf
from reports.resources import static_url, storage_url

from .helpers import image_count, text


@pytest.fixture
def http_server():
    """A real HTTP server on loopback that serves a PNG and a stylesheet, and counts what it is asked."""
    seen = []
    image = png_bytes((40, 40))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            css = self.path.endswith(".css")
            body = b"body { color: red }" if css else image
            self.send_response(200)
            self.send_header("Content-Type", "text/css" if css else "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _default_fetcher_pdf(html: str) -> bytes:
    """The same HTML through WeasyPrint's own fetcher: the control that shows what ours refuses."""
    from reports.weasy import HTML

    return HTML(string=html).write_pdf()


def test_weasyprints_default_fetcher_would_fetch_it_so_the_silence_below_means_something(http_server):
    base, seen = http_server
    pdf = _default_fetcher_pdf(f'<html><body><img src="{base}/tracker.png"></body></html>')
    assert seen == ["/tracker.png"] and image_count(pdf) == 1


def test_an_http_url_in_the_html_is_not_fetched(http_server):
    base, seen = http_server
    html = (
        f'<html><head><link rel="stylesheet" href="{base}/evil.css">'
        f'<style>@import url("{base}/imported.css"); body {{ background: url("{base}/bg.png") }}</style></head>'
        f'<body><p>Report body</p><img src="{base}/tracker.png"><img src="https://127.0.0.1:1/x.png"></body></html>'
    )
    pdf = html_to_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert "Report body" in text(pdf)
    assert seen == []
    assert image_count(pdf) == 0


def test_a_file_url_and_a_data_url_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    picture = tmp_path / "picture.png"
    picture.write_bytes(png_bytes((30, 30)))
    inline = base64.b64encode(png_bytes((20, 20))).decode()
    html = (
        f'<html><body><p>Before</p><object data="file://{secret}"></object>'
        f'<img src="file://{secret}"><iframe src="file://{secret}"></iframe>'
        f'<img src="file://{picture}"><img src="data:image/png;base64,{inline}"><p>After</p></body></html>'
    )
    assert image_count(_default_fetcher_pdf(html)) == 2  # the control: WeasyPrint's own fetcher reads both
    pdf = html_to_pdf(html)
    body = text(pdf)
    assert "Before" in body and "After" in body
    assert "TOP-SECRET-CONTENT" not in body
    assert image_count(pdf) == 0


def test_only_the_storage_keys_the_report_lists_are_opened():
    listed = storage.object_key(1, "00000000-0000-0000-0000-000000000001", "png")
    other = storage.object_key(2, "00000000-0000-0000-0000-000000000002", "png")
    storage.store(listed, ContentFile(png_bytes((30, 30))))
    storage.store(other, ContentFile(png_bytes((50, 20))))
    try:
        html = f'<html><body><img src="{storage_url(listed)}"><img src="{storage_url(other)}"></body></html>'
        assert image_count(html_to_pdf(html, storage_keys=[listed])) == 1
        assert image_count(html_to_pdf(html, storage_keys=[])) == 0
        # A listed key's path walked out of the storage prefix is refused, not normalised into another key.
        walked = storage_url(listed).replace("/org/", "/x/../org/")
        assert image_count(html_to_pdf(f'<img src="{walked}">', storage_keys=[listed])) == 0
    finally:
        storage.delete_quietly([listed, other])


def test_our_static_stylesheet_is_loaded_and_a_path_outside_static_is_not():
    styled = html_to_pdf(f'<html><head><link rel="stylesheet" href="{static_url("reports/report.css")}"></head>'
                         "<body><p>Styled</p></body></html>")
    assert "Page 1 of 1" in text(styled)  # the stylesheet's @page footer
    escaped = html_to_pdf(f'<html><head><link rel="stylesheet" href="{static_url("../../medilens/settings/base.py")}">'
                          "</head><body><p>Plain</p></body></html>")
    assert "Page 1 of 1" not in text(escaped) and "Plain" in text(escaped)
