"""Audit trail. ``audit.record(...)`` is the one way to write an event (see audit.services)."""


def record(**kwargs):
    from .services import record as _record

    return _record(**kwargs)


def batched():
    from .services import batched as _batched

    return _batched()
