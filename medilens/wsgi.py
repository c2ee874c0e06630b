import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")
application = get_wsgi_application()

from medilens.crypto.checks import verify_at_startup  # noqa: E402  (after Django is set up)

# A wrong FIELD_ENCRYPTION_KEYS stops the server here, with a message naming it, before any request.
verify_at_startup()
