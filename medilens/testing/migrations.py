"""Moving the test database between migrations, for the tests of a data migration on rows that exist."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def leaves() -> list[tuple[str, str]]:
    """Every app's newest migration: where a test returns the database to, whatever happened in it."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(targets):
    """Migrate to ``targets`` and return the historical models (``apps``) as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps
