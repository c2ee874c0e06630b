"""Read ``timestamptz`` columns with psycopg's compiled parser.

Django's psycopg 3 backend registers its own ``timestamptz`` loader on every connection
(``django.db.backends.postgresql.psycopg_any.BaseTzLoader``: the time zone Django wants on the values). It
derives from psycopg's pure-Python ``TimestamptzLoader``, so every timestamp of every row is parsed by a
regular expression in Python even where psycopg's C extension (``psycopg[binary]``, in requirements.txt) has a
compiled parser, and that C class is final: it cannot be subclassed. The problem is known upstream (Django
ticket #36960, psycopg issue #1273). A page of the API's assessment list reads about 500 timestamps; measured
with the load test's seed (2026-12-07), parsing them in Python was 14 % of the list's CPU.

``FastTzLoader`` is Django's loader class (so Django's per-cursor check of ``loader.timezone`` still works) whose
``load`` hands the bytes to the compiled loader, then puts the value in Django's zone as Django does. Where
Django replaces the zone (correct only because Django sets the session's TimeZone to its own), this converts
(``astimezone``): the same value when the zones agree, the right instant if they ever did not. With
``USE_TZ = False`` the zone is dropped, as Django does. Without the C extension (``psycopg.pq.__impl__`` is
"python") nothing is installed and Django's loader stays.

``install()`` (this app's ``ready``) registers it on the adapters template Django builds each connection's
adapters from (``get_adapters_template``, cached per (USE_TZ, zone)), once per PostgreSQL alias: no per-request
cost. ``medilens/pgtypes/tests/test_loaders.py`` checks connections use it and read what Django's loader reads.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections

try:
    import psycopg
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
    from psycopg.postgres import adapters as psycopg_adapters
    from psycopg.postgres import types as psycopg_types
    from psycopg.pq import Format
except ImportError:  # PostgreSQL's driver is not installed: nothing to install
    psycopg = None

TIMESTAMPTZ = "timestamptz"


def compiled_loader():
    """psycopg's C ``timestamptz`` text loader, or None where only the pure-Python implementation exists."""
    if psycopg is None or psycopg.pq.__impl__ == "python":
        return None
    loader = psycopg_adapters.get_loader(psycopg_types[TIMESTAMPTZ].oid, Format.TEXT)
    return None if loader.__module__.startswith("psycopg.types") else loader


def loader_for(zone, compiled):
    """A Django timestamptz loader for ``zone`` (None: naive values) that parses with ``compiled``."""

    class FastTzLoader(BaseTzLoader):
        timezone = zone
        _medilens_fast = True  # install() recognises its own loader by it

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._parse = compiled(oid, context).load

        if zone is None:

            def load(self, data):
                return self._parse(data).replace(tzinfo=None)

        else:

            def load(self, data):
                return self._parse(data).astimezone(zone)

    FastTzLoader.__qualname__ = FastTzLoader.__name__ = f"FastTzLoader[{zone}]"
    return FastTzLoader


def install() -> list[str]:
    """Register the fast loader for every PostgreSQL alias; returns the aliases it was installed for."""
    compiled = compiled_loader()
    if compiled is None:
        return []
    installed = []
    for alias in connections:
        wrapper = connections[alias]
        if wrapper.vendor != "postgresql":
            continue
        template = get_adapters_template(settings.USE_TZ, wrapper.timezone)
        current = template.get_loader(psycopg_types[TIMESTAMPTZ].oid, Format.TEXT)
        if not getattr(current, "_medilens_fast", False):
            template.register_loader(TIMESTAMPTZ, loader_for(wrapper.timezone, compiled))
        installed.append(alias)
    return installed
