"""Settings for benchmarks/load_test.py's gunicorn: the production settings, with two changes the loopback
run needs and nothing else: the collected static files live in the run's temporary directory, and the session
and CSRF cookies are not marked Secure (the load test speaks plain HTTP to 127.0.0.1, where a client would
never send a Secure cookie back; production serves HTTPS behind its proxy)."""

import os

from medilens.settings import *  # noqa: F403

STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
