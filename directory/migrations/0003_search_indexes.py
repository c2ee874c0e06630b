"""Search indexes for the reference directory (see directory/search/matching.py for the queries they serve).

PostgreSQL: pg_trgm (a trusted extension: the database owner may create it), full-text GIN indexes on the
folded text (prefix queries), trigram GiST indexes on the same text (typo-tolerant matching, nearest first), and b-trees
for a name prefix, an ATC prefix and the bounding box of a distance search.
SQLite: FTS5 tables over the folded columns, external-content (they index, the main tables store), kept in
step with the main tables by triggers, so the import needs to know nothing about them.

The expressions must stay exactly those of matching.py: PostgreSQL uses an expression index only for the
same expression.
"""

from django.db import migrations

FACILITY_DOCUMENT = "(name_folded || ' ' || commune_folded)"
MEDICINE_DOCUMENT = "(name_folded)"

POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX directory_fac_fulltext ON directory_facility USING gin (to_tsvector('simple', {FACILITY_DOCUMENT}))",
    # GiST, not GIN: it also orders by word-similarity distance (<<->), so a near-spelling search stops after
    # its first rows instead of scoring every row that shares a trigram with a common word.
    f"CREATE INDEX directory_fac_trigram ON directory_facility USING gist ({FACILITY_DOCUMENT} gist_trgm_ops(siglen=256))",
    # Bytewise ("C") b-trees serve both a LIKE prefix and ORDER BY ... COLLATE "C" (matching.text_order).
    'CREATE INDEX directory_fac_name ON directory_facility (dataset_id, name_folded COLLATE "C")',
    'CREATE INDEX directory_fac_commune ON directory_facility (dataset_id, commune_folded COLLATE "C")',
    f"CREATE INDEX directory_med_fulltext ON directory_medicine USING gin (to_tsvector('simple', {MEDICINE_DOCUMENT}))",
    f"CREATE INDEX directory_med_trigram ON directory_medicine USING gist ({MEDICINE_DOCUMENT} gist_trgm_ops(siglen=256))",
    "CREATE INDEX directory_med_atc ON directory_medicine (dataset_id, atc5 varchar_pattern_ops)",
    'CREATE INDEX directory_med_name ON directory_medicine (dataset_id, name_folded COLLATE "C")',
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS " + name
    for name in (
        "directory_fac_fulltext",
        "directory_fac_trigram",
        "directory_fac_name",
        "directory_med_fulltext",
        "directory_med_trigram",
        "directory_med_atc",
        "directory_med_boxes",
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
