"""What the battery presents: the word lists, the digit-span lengths and the reaction-time window.

Word lists written for MediLens: common, concrete, picturable nouns of one or two syllables, each word from a
different everyday category so that the lists do not invite grouping. They are deliberately NOT the lists of
published tests (RAVLT, CERAD, HVLT-R, MoCA, MMSE...): those word lists are copyrighted and several are licensed
for a fee (HVLT-R, MoCA, MMSE); reproducing them in software is not permitted. These lists are MediLens' own and
are released with the code. Three equivalent lists let a retest use new words.
"""

from __future__ import annotations

WORD_LISTS: dict[str, tuple[str, ...]] = {
    "A": ("candle", "bucket", "ladder", "onion", "blanket", "rabbit", "hammer", "wagon", "button", "kettle"),
    "B": ("basket", "carpet", "lemon", "pillow", "spoon", "tractor", "whistle", "saddle", "mirror", "pumpkin"),
    "C": ("anchor", "bottle", "pepper", "ribbon", "goat", "jacket", "wallet", "feather", "helmet", "barrel"),
}

# Digit span: lengths presented and trials per length (two, as in the usual procedure).
FORWARD_LENGTHS = range(3, 10)
BACKWARD_LENGTHS = range(2, 9)
TRIALS_PER_LENGTH = 2

RESPONSE_WINDOW_MS = 5000  # no key press within this window: an omission (recorded as rt_ms null)
FOREPERIOD_RANGE_MS = (200, 10000)
MAX_DELAY_MS = 2 * 60 * 60 * 1000


def protocol_sequences(rng) -> dict[str, list[list[int]]]:
    """Digit sequences for one administration: two per length, digits 1-9 without repeats within a sequence
    (zero is left out: it is read as 'oh' or 'zero', and the usual procedure uses 1-9)."""
    return {
        "forward": [rng.sample(range(1, 10), n) for n in FORWARD_LENGTHS for _ in range(TRIALS_PER_LENGTH)],
        "backward": [rng.sample(range(1, 10), n) for n in BACKWARD_LENGTHS for _ in range(TRIALS_PER_LENGTH)],
    }
