"""Streaming a raw file as decoded lines: memory holds one chunk, whatever the file's size."""

import io
from collections.abc import Iterator
from typing import BinaryIO

from .errors import FormatError


def decoded_lines(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, str, bool]]:
    """(line number from 1, text without its line end, whether it had a line end). Memory: one chunk."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    number = 0
    try:
        for number, raw in enumerate(text, start=1):  # noqa: B007 (number is read after the loop)
            stripped = raw.rstrip("\r\n")
            yield number, stripped, stripped != raw
    except UnicodeDecodeError as error:
        raise FormatError(
            f"near line {number + 1}: bytes that are not {encoding} text ({error.reason}): a corrupt or binary file?"
        ) from None
