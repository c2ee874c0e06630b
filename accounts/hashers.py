"""How passwords are stored: Argon2id at OWASP's minimum configuration.

OWASP Password Storage Cheat Sheet (2023 onwards): "Use Argon2id with a minimum configuration of 19 MiB of
memory, an iteration count of 2, and 1 degree of parallelism." Argon2id (RFC 9106) is memory-hard, so a
guess costs an attacker 19 MiB as well as time, where PBKDF2 costs only time, which GPUs buy cheaply.

Why not Django's defaults: its PBKDF2-SHA256 (1,000,000 iterations) takes about 240 ms of CPU per sign-in on
our 2-core machine (17 ms for this), and its own Argon2 hasher's 100 MiB about 170 ms. Sign-ins were two
thirds of the web processes' CPU in the 500-user load test (benchmarks/load_test.py, README "Load"). Hashes
stored by another hasher in settings.PASSWORD_HASHERS still verify, and Django re-hashes them with this one
at the user's next sign-in (the hasher's ``must_update`` also catches argon2 hashes with other costs).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (argon2-cffi, type ID, the "argon2" algorithm prefix) at OWASP's minimum costs."""

    time_cost = 2
    memory_cost = 19456  # KiB: 19 MiB
    parallelism = 1
