"""Row-Level Security tests run as the roles production uses, against this session's test database.

``db_roles`` creates both roles (twice: the command must be idempotent) after the test database is
migrated. ``connected_as`` swaps Django's ``default`` connection for one logged in as another role, with
psycopg's pool as in production, so the application's own code runs under the policies.
"""

import copy
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connections
from django.db.utils import load_backend

from medilens.rls.roles import APP_ROLE, MAINTENANCE_ROLE, create_roles


@pytest.fixture(scope="session")
def db_roles(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        create_roles()
        create_roles()
    return APP_ROLE, MAINTENANCE_ROLE


def _wrapper(role: str, alias: str, options: dict | None = None):
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict.update(USER=role, PASSWORD="")
    settings_dict.setdefault("OPTIONS", {}).update(options or {})
    # One pooled connection, so a test can show the next borrower gets the very same one.
    settings_dict.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 1, "timeout": 10}
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)


@contextmanager
def connected_as(role: str, *, maintenance_role: str | None = None, settings=None, options: dict | None = None):
    """Run the block with ``default`` connected as ``role``; with ``maintenance_role``, also the
    ``maintenance`` alias as that role and MAINTENANCE_DATABASE_ALIAS pointing at it."""
    swapped = {"default": _wrapper(role, f"rls_{role}", options)}
    if maintenance_role:
        swapped["maintenance"] = _wrapper(maintenance_role, f"rls_{maintenance_role}")
        settings.MAINTENANCE_DATABASE_ALIAS = "maintenance"
    previous = {alias: connections[alias] for alias in swapped if alias in connections.settings}
    for alias, wrapper in swapped.items():
        connections[wrapper.alias] = wrapper  # atomic(using=wrapper.alias) finds it too
        connections[alias] = wrapper
    try:
        yield swapped["default"]
    finally:
        for alias, wrapper in swapped.items():
            wrapper.close()
            pool = wrapper._connection_pools.pop(wrapper.alias, None)
            if pool is not None:
                pool.close()
            delattr(connections._connections, wrapper.alias)
            if alias in previous:
                connections[alias] = previous[alias]
            else:
                delattr(connections._connections, alias)


@contextmanager
def raw_connection(role: str):
    """A plain psycopg connection as ``role`` to the test database, outside Django."""
    settings_dict = connections["default"].settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"], user=role, host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None
    ) as connection:
        yield connection
