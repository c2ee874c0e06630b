"""The audit log as CSV, written row by row while the response streams: a log of any length is never
held in memory whole (the database cursor hands over a chunk at a time)."""

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet

# "sequence" is the event's place in its organization's chain and "hash" the chain value covering it (the seal's
# HMAC, or the legacy SHA-256); both are empty for an event not sealed yet.
COLUMNS = [
    "sequence", "occurred_at", "action", "outcome", "actor_type", "actor", "target_type", "target_id",
    "ip", "request_id", "details", "hash",
]
# Rows fetched from the database per round trip: memory stays at one chunk of events.
CHUNK_SIZE = 500


class _Echo:
    """csv.writer writes to a file; this 'file' hands each formatted line back instead."""

    def write(self, value):
        return value


def csv_lines(events: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for event in events.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow(
            [
                _blank(event.chain_sequence), event.occurred_at.isoformat(), event.action, event.outcome,
                event.actor_type, event.actor_label, event.target_type, event.target_id, event.ip or "",
                event.request_id,
                # JSON, as stored: a spreadsheet or a script reads it back (a Python repr it could not).
                json.dumps(event.details, sort_keys=True, ensure_ascii=False), _blank(event.hash),
            ]
        )


def _blank(value) -> str:
    return "" if value is None else str(value)
