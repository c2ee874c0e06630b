"""Near spellings for PostgreSQL's typo-tolerant search: a query word is replaced by the most similar word of
the current data, then the corrected query is searched as typed (matching.py puts its rows after the rows the
query matched as typed).

Similarity is pg_trgm's: the words' trigrams (a word padded with two spaces before and one after) shared,
over all trigrams of both. Matching whole documents with pg_trgm instead (word_similarity on each row's
name and commune) scored every row sharing a trigram with the typo: 0.3-1.7 s for a typo of a common word
over 100,000 establishments. The data's words are few (tens of thousands), read once per process and
dataset (one query), and compared here in a millisecond or two.

The same read counts each word's rows: matching.py lets the least common word of a query lead its search.
The counts are read once per import, not once per process: the import computes them (``remember``) and the
cache shares them, where that read took 1-4 s of the first search of every process after an import. The
trigrams are indexed only when a near spelling is first looked for (about 1 s for 10,000 words on a slow
machine): the least common word needs only the sorted words and their counts.

A word is replaced when nothing starts with it and a word is at least CORRECT similar, or when a word is at
least REPLACE similar whatever starts with it ("montpelier" is a word of one establishment and a typo of
Montpellier).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from functools import cached_property, lru_cache
from itertools import accumulate

from django.db import connection

from . import cache

CORRECT = 0.3
REPLACE = 0.6
_KEPT = 4  # vocabularies kept per process: the current datasets of both sources, and the ones they replace
WORDS_TIMEOUT = 90 * 24 * 3600  # the cache keeps an import's word counts this long (the next FINESS import: a month)


def trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[index : index + 3] for index in range(len(padded) - 2)}


class Vocabulary:
    def __init__(self, words, counts: dict[str, int] | None = None):
        self.words = sorted(set(words))
        # Rows holding each word (when known): prefix_rows() sums them over the words a prefix starts.
        counts = counts or {}
        self._cumulative = list(accumulate((counts.get(word, 0) for word in self.words), initial=0))

    @cached_property
    def trigrams(self) -> dict[str, set[str]]:
        return {word: trigrams(word) for word in self.words}

    @cached_property
    def by_trigram(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for word, grams in self.trigrams.items():
            for gram in grams:
                found[gram].append(word)
        return found

    def starts_a_word(self, prefix: str) -> bool:
        at = bisect.bisect_left(self.words, prefix)
        return at < len(self.words) and self.words[at].startswith(prefix)

    def prefix_rows(self, prefix: str) -> int:
        """Rows holding a word that starts with ``prefix``, at most (a row with two such words counts twice)."""
        start = bisect.bisect_left(self.words, prefix)
        end = bisect.bisect_left(self.words, prefix + "\x7f", lo=start)
        return self._cumulative[end] - self._cumulative[start]

    def closest(self, word: str) -> tuple[str, float] | None:
        """The most similar word that does not start with ``word`` (those are found as typed), or None."""
        grams = trigrams(word)
        shared = Counter(other for gram in grams for other in self.by_trigram.get(gram, ()))
        best_word, best_score = None, 0.0
        for other, count in shared.items():
            if other.startswith(word):
                continue
            score = count / (len(grams) + len(self.trigrams[other]) - count)
            if score > best_score or (score == best_score and best_word is not None and other < best_word):
                best_word, best_score = other, score
        return (best_word, best_score) if best_word is not None else None

    def corrected(self, words: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for word in words:
            found = self.closest(word)
            replace = found is not None and (
                found[1] >= REPLACE or (found[1] >= CORRECT and not self.starts_a_word(word))
            )
            out.append(found[0] if replace else word)
        return tuple(out)


def _counts(table, dataset_id: int) -> dict[str, int]:
    """Each word of the dataset's folded text, with the number of rows holding it (one query, PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT w.word, count(DISTINCT f.id) FROM {table.name} f "  # noqa: S608
            f"CROSS JOIN LATERAL regexp_split_to_table({table.document}, ' ') AS w(word) "
            "WHERE f.dataset_id = %s GROUP BY w.word",
            [dataset_id],
        )
        return {word: rows for word, rows in cursor.fetchall() if word}


def remember(table, dataset_id: int) -> dict[str, int]:
    """The dataset's word counts, from the cache (an import never changes once loaded), computed and stored there
    when it does not hold them: the import calls this before its swap, so no process reads them itself."""
    return cache.remembered("words", dataset_id, table.name, lambda: _counts(table, dataset_id), WORDS_TIMEOUT)


@lru_cache(maxsize=_KEPT)
def vocabulary(table, dataset_id: int) -> Vocabulary:
    """The dataset's words, kept per process (``table``: a matching.Table, hashable)."""
    counts = remember(table, dataset_id)
    return Vocabulary(counts, counts)
