"""Generated battery responses for the demo and the tests: someone with a given span, given reaction times and
given recalled words, answering a protocol as the browser records it. Never imported on the worker's path
(``modalities.registry.demo_cases`` imports it for the demo)."""

from __future__ import annotations

from typing import Any

from ..base import DemoCase
from .protocol import WORD_LISTS, protocol_sequences


def _span_trials(sequences: list[list[int]], span: int, *, backward: bool) -> list[dict]:
    """Trials as the battery records them for someone whose span is ``span``: correct up to that length,
    both trials wrong at the next length, then stop (the discontinue rule)."""
    trials = []
    for sequence in sequences:
        if len(sequence) > span + 1:
            break
        right = list(reversed(sequence)) if backward else list(sequence)
        response = right if len(sequence) <= span else right[:-2] + right[-1:]
        trials.append({"presented": list(sequence), "response": response, "response_ms": 1500 + 400 * len(sequence)})
    return trials


def synthetic_responses(*, rts: list[float | None], forward_span: int, backward_span: int | None,
                        immediate: list[str] | None, delayed: list[str], list_id: str = "A", seed: int = 7,
                        delay_ms: int = 300_000) -> dict:
    import random

    rng = random.Random(seed)
    sequences = protocol_sequences(rng)
    responses: dict[str, Any] = {
        "version": 1,
        "protocol": {"battery": "medilens-cognitive", "timing": "standard"},
        "reaction_time": {"trials": [
            {"foreperiod_ms": rng.randint(1000, 3000), "rt_ms": rt, "premature": False} for rt in rts
        ]},
        "digit_span": {"forward": _span_trials(sequences["forward"], forward_span, backward=False)},
        "word_recall": {"list_id": list_id, "words": list(WORD_LISTS[list_id]), "delayed": list(delayed),
                        "delay_ms": delay_ms},
    }
    if backward_span is not None:
        responses["digit_span"]["backward"] = _span_trials(sequences["backward"], backward_span, backward=True)
    if immediate is not None:
        responses["word_recall"]["immediate"] = list(immediate)
    return responses


def normal_case() -> dict:
    words = WORD_LISTS["A"]
    rts = [262, 281, 249, 301, 275, 258, 290, 243, 312, 268, 284, 255, 297, 271, 264, 288, 252, 305, 279, 266]
    return synthetic_responses(rts=rts, forward_span=7, backward_span=5, immediate=list(words[:7]),
                               delayed=[*words[:6], "Buttons"], list_id="A", seed=11)


def slowed_case() -> dict:
    words = WORD_LISTS["B"]
    rts = [512, 438, None, 611, 475, 540, 398, 702, 455, 530, None, 489, 566, 421, 598, 467, 633, 509, 444, 580]
    return synthetic_responses(rts=rts, forward_span=5, backward_span=3, immediate=list(words[:6]),
                               delayed=[*words[:4], "chair"], list_id="B", seed=12)


def poor_recall_case() -> dict:
    words = WORD_LISTS["C"]
    rts = [318, 342, 305, 366, 331, 297, 352, 340, 314, 327, 361, 309, 348, 322, 336, 301, 355, 329, 344, 317]
    return synthetic_responses(rts=rts, forward_span=6, backward_span=4, immediate=list(words[:4]),
                               delayed=["goat", "table", "window", "goat"], list_id="C", seed=13)


def demo_cases() -> list[DemoCase]:
    return [DemoCase(inputs=case) for case in (normal_case(), slowed_case(), poor_recall_case())]
