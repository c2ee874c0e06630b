"""The audit tests' fixtures. The SQLite run (test_sqlite.py) loads this file but not the project's root
conftest.py (``--confcutdir``): that one starts an S3 server and points storage at it, while the embedded
default keeps files on the local disk. So the tenant fixtures are named here too."""

from medilens.testing.fixtures import _own_checkpoint_prefix, password, tenant_a, tenant_b  # noqa: F401

from .support import (  # noqa: F401
    committed_audit_rows_removable,
    superuser,
    superuser_client,
)
