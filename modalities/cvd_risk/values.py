"""Input checking shared by the equations: malformed input (wrong type, NaN, negative, unknown sex) is a
``ValueError``; a well-formed value outside an equation's validated range is ``NotApplicable``. Pure Python:
no Django import."""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from typing import Any


class NotApplicable(Exception):
    """A well-formed input lies outside the equation's validated range; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def number(name: str, value: Any, *, positive: bool = False) -> float:
    # bool is an int subclass; True as a cholesterol value is a caller bug, not 1 mg/dL.
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if number < 0:
        raise ValueError(f"{name} cannot be negative, got {value!r}.")
    if positive and number == 0:
        raise ValueError(f"{name} must be greater than zero, got {value!r}.")
    return number


def optional_number(name: str, value: Any, *, positive: bool = False) -> float | None:
    return None if value is None else number(name, value, positive=positive)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return value


def sex(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in ("female", "male"):
        return value.strip().lower()
    raise ValueError(f"sex must be 'female' or 'male', got {value!r}.")


def race(value: Any) -> str:
    # Goff 2014: the PCE have African-American and white equations; for any other race or ethnicity
    # the guideline directs use of the white equations.
    if value is None:
        return "white"
    if not isinstance(value, str):
        raise ValueError(f"race must be a string or None, got {type(value).__name__} {value!r}.")
    normalized = value.strip().lower().replace("-", "_").replace(" ", "_")
    if normalized in ("african_american", "black", "black_or_african_american"):
        return "african_american"
    return "white"


def plain(value: float) -> str:
    return f"{value:g}"


def ranges(equation: str, checks: list[tuple[str, float, float, str, float]]) -> None:
    """Raise NotApplicable listing every value outside [low, high]; an empty unit marks age."""
    problems = []
    for label, low, high, unit, value in checks:
        if low <= value <= high:
            continue
        if label == "age":
            problems.append(
                f"{equation} are validated for ages {plain(low)}-{plain(high)}; "
                f"patient is {plain(value)}."
            )
        else:
            problems.append(
                f"{equation} are validated for {label} {plain(low)}-{plain(high)} {unit}; "
                f"patient's is {plain(value)} {unit}."
            )
    if problems:
        raise NotApplicable(" ".join(problems))
