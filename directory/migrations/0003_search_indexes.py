"""Search indexes for the reference directory (see directory/search/matching.py for the queries they serve).

PostgreSQL: full-text GIN indexes on the folded text (word prefixes anywhere), bytewise b-trees on the folded
name and commune (a prefix, in order), an ATC prefix b-tree and the bounding box of a distance search. Near
spellings need no index: they are found among the data's own words (directory/search/spelling.py).
SQLite: FTS5 tables over the folded columns, external-content (they index, the main tables store), kept in
step with the main tables by triggers, so the import needs to know nothing about them.

The expressions must stay exactly those of matching.py: PostgreSQL uses an expression index only for the
same expression.
"""

from django.db import migrations

FACILITY_DOCUMENT = "(name_folded || ' ' || commune_folded)"
MEDICINE_DOCUMENT = "(name_folded)"

POSTGRESQL = [
    f"CREATE INDEX directory_fac_fulltext ON directory_facility USING gin (to_tsvector('simple', {FACILITY_DOCUMENT}))",
    # Bytewise ("C") b-trees serve both a LIKE prefix and ORDER BY ... COLLATE "C" (matching.text_order).
    'CREATE INDEX directory_fac_name ON directory_facility (dataset_id, name_folded COLLATE "C")',
    'CREATE INDEX directory_fac_commune ON directory_facility (dataset_id, commune_folded COLLATE "C")',
    f"CREATE INDEX directory_med_fulltext ON directory_medicine USING gin (to_tsvector('simple', {MEDICINE_DOCUMENT}))",
    "CREATE INDEX directory_med_atc ON directory_medicine (dataset_id, atc5 varchar_pattern_ops)",
    'CREATE INDEX directory_med_name ON directory_medicine (dataset_id, name_folded COLLATE "C")',
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS " + name
    for name in (
        "directory_fac_fulltext",
        "directory_fac_name",
        "directory_fac_commune",
        "directory_med_fulltext",
        "directory_med_atc",
        "directory_med_name",
    )
]


def _fts5(table: str, columns: tuple[str, ...]) -> list[str]:
    fts = f"{table}_fts"
    names = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id', "
        "tokenize='unicode61', prefix='2 3')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE ON {table} BEGIN {delete} {insert} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


SQLITE = [
    *_fts5("directory_facility", ("name_folded", "commune_folded")),
    *_fts5("directory_medicine", ("name_folded",)),
]
SQLITE_REVERSE = [
    statement
    for table in ("directory_facility", "directory_medicine")
    for statement in (
        f"DROP TRIGGER IF EXISTS {table}_fts_insert",
        f"DROP TRIGGER IF EXISTS {table}_fts_delete",
        f"DROP TRIGGER IF EXISTS {table}_fts_update",
        f"DROP TABLE IF EXISTS {table}_fts",
    )
]
BOTH = ["CREATE INDEX directory_fac_location ON directory_facility (dataset_id, latitude, longitude)"]
BOTH_REVERSE = ["DROP INDEX IF EXISTS directory_fac_location"]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, BOTH + {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(vendor, []))


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, {"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}.get(vendor, []) + BOTH_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("directory", "0002_facility_category_group")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
