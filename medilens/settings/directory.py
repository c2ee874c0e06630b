"""The reference directory (directory/): where its files come from, the import's limits and its schedule."""

from celery.schedules import crontab

from .base import *  # noqa: F403 (these settings build on the base's)
from .tasks import CELERY_BEAT_SCHEDULE

# Where the scheduled imports download from. Empty: the scheduled job downloads nothing and logs why.
# FINESS: the "etalab-cs1100507-stock-<date>.csv" resource of data.gouv.fr's "FINESS Extraction du Fichier des
# établissements"; OpenMedic: a yearly "OPEN_MEDIC_<year>.zip" (or .CSV) of the Assurance Maladie.
DIRECTORY_FINESS_URL = env.str("DIRECTORY_FINESS_URL", default="")
DIRECTORY_OPENMEDIC_URL = env.str("DIRECTORY_OPENMEDIC_URL", default="")
# A file (downloaded or given) larger than this is refused before it is read. A year of OpenMedic is ~0.5 GB.
DIRECTORY_MAX_FILE_BYTES = env.int("DIRECTORY_MAX_FILE_BYTES", default=2 * 1024**3)
# Downloads: seconds a connection or a read may wait, and seconds the whole download may take.
DIRECTORY_DOWNLOAD_TIMEOUT = env.float("DIRECTORY_DOWNLOAD_TIMEOUT", default=30.0)
DIRECTORY_DOWNLOAD_TOTAL_TIMEOUT = env.float("DIRECTORY_DOWNLOAD_TOTAL_TIMEOUT", default=1800.0)
# Where downloads are written while an import runs (deleted after it); empty: the system's temporary directory.
DIRECTORY_DOWNLOAD_DIR = env.str("DIRECTORY_DOWNLOAD_DIR", default="")
# An import whose row count differs from the current data's by more than this fraction fails validation.
DIRECTORY_IMPORT_TOLERANCE = env.float("DIRECTORY_IMPORT_TOLERANCE", default=0.2)
DIRECTORY_BATCH_SIZE = env.int("DIRECTORY_BATCH_SIZE", default=2000)
# An import still "running" after this many seconds lost its process: the next import of its source records it
# failed and deletes its partial rows; a younger one makes the next import wait (one import per source at a time).
DIRECTORY_IMPORT_STALE_SECONDS = env.int("DIRECTORY_IMPORT_STALE_SECONDS", default=6 * 60 * 60)
# Cron fields "minute hour day-of-month month day-of-week", in TIME_ZONE: FINESS monthly, OpenMedic yearly.
DIRECTORY_FINESS_SCHEDULE = env.str("DIRECTORY_FINESS_SCHEDULE", default="15 4 3 * *")
DIRECTORY_OPENMEDIC_SCHEDULE = env.str("DIRECTORY_OPENMEDIC_SCHEDULE", default="45 4 1 9 *")


def _crontab(fields: str) -> crontab:
    minute, hour, day_of_month, month_of_year, day_of_week = fields.split()
    return crontab(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
    )


CELERY_BEAT_SCHEDULE["directory-import-finess"] = {
    "task": "directory.tasks.scheduled_import", "args": ["finess"], "schedule": _crontab(DIRECTORY_FINESS_SCHEDULE),
}
CELERY_BEAT_SCHEDULE["directory-import-openmedic"] = {
    "task": "directory.tasks.scheduled_import",
    "args": ["openmedic"],
    "schedule": _crontab(DIRECTORY_OPENMEDIC_SCHEDULE),
}
