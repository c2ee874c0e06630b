"""Rendering a report must not make Pillow accept truncated images in the rest of the process."""

import io

import pytest
from PIL import Image, ImageFile

from reports.rendering import html_to_pdf


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()[:-40]


def test_after_a_report_is_rendered_a_truncated_image_still_fails_to_load():
    assert html_to_pdf("<p>Report</p>").startswith(b"%PDF")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(OSError):
        Image.open(io.BytesIO(_truncated_png())).load()
