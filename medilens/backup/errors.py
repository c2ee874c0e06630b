"""The failures a backup command reports as a clear message (and a non-zero exit), never a traceback."""

from .archive import ArchiveError
from .database import DatabaseError
from .keys import BackupKeyError


def expected_failures() -> tuple[type[Exception], ...]:
    from retention.ledger import LedgerError

    from .restore import RestoreFailed, RestoreRefused

    return (ArchiveError, BackupKeyError, DatabaseError, LedgerError, RestoreRefused, RestoreFailed)
