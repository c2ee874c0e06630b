import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")
application = get_asgi_application()

from medilens.crypto.checks import verify_at_startup  # noqa: E402  (after Django is set up)

# A wrong FIELD_ENCRYPTION_KEYS stops the server here, with a message naming it, before any request.
verify_at_startup()
