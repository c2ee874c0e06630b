"""Decoding JSON from a request without letting its shape crash the server.

Python's decoder recurses once per nesting level: a body of 50,000 ``[`` raises RecursionError (a 500 if
nobody catches it), and a body nested a little under the interpreter's limit parses, then breaks whatever
recurses over it next (serializing it for a fingerprint, saving it). So nesting is bounded well below
the interpreter's limit: no request of this application needs more than a few levels.
"""

from __future__ import annotations

import json

MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    def __init__(self, max_depth: int = MAX_DEPTH):
        super().__init__(f"The JSON is nested more than {max_depth} levels deep.")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **options):
    """``json.loads`` that raises JSONTooDeep (a ValueError) for a document nested deeper than
    ``max_depth``, however deep, instead of RecursionError."""
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise JSONTooDeep(max_depth) from None
    check_depth(value, max_depth=max_depth)
    return value


def check_depth(value, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk without recursion: the document may be nested too deeply for a recursive walk."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JSONTooDeep(max_depth)
        pending.extend((child, depth + 1) for child in children)
