"""Helpers of the report tests: the PDF's text per page, read back with pypdf."""

import io

from pypdf import PdfReader


def pages(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def text(pdf: bytes) -> str:
    return " ".join(pages(pdf))


def image_count(pdf: bytes) -> int:
    """Distinct images (WeasyPrint lists one image in the resources of every page)."""
    reader = PdfReader(io.BytesIO(pdf))
    return len({image.data for page in reader.pages for image in page.images})
