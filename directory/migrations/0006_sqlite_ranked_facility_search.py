"""SQLite only (PostgreSQL has its word-start keys, migration 0004): the facilities' FTS5 table becomes one whose
rowids follow the names (directory/search/ranked_sqlite.py), filled by the import, not by triggers; the name, rank
and commune indexes read the tiers in order, and the location index covers a search near a point. Datasets
imported before are ranked and indexed here. The reverse puts back the FTS5 table of migration 0003, kept by its
triggers, and the plain location index."""

import importlib

from django.db import migrations

from directory.search import ranked_sqlite

FORWARDS = [
    f"CREATE VIRTUAL TABLE {ranked_sqlite.TABLE} USING fts5(name_folded, commune_folded, tokenize='unicode61', "
    "prefix='2 3')",
    "CREATE INDEX directory_fac_name ON directory_facility (dataset_id, name_folded)",
    "CREATE INDEX directory_fac_rank ON directory_facility (dataset_id, name_rank)",
    "CREATE INDEX directory_fac_commune_name ON directory_facility (dataset_id, commune_folded, name_rank)",
    # What a search near a point filters and orders on, so that it reads this index alone (as 0005 on PostgreSQL).
    "DROP INDEX IF EXISTS directory_fac_location",
    "CREATE INDEX directory_fac_location ON directory_facility "
    "(dataset_id, latitude, longitude, category_code, department_code, name_rank)",
    "DROP TRIGGER IF EXISTS directory_facility_fts_insert",
    "DROP TRIGGER IF EXISTS directory_facility_fts_delete",
    "DROP TRIGGER IF EXISTS directory_facility_fts_update",
    "DROP TABLE IF EXISTS directory_facility_fts",
]
BACKWARDS = [
    f"DROP TABLE IF EXISTS {ranked_sqlite.TABLE}",
    "DROP INDEX IF EXISTS directory_fac_name",
    "DROP INDEX IF EXISTS directory_fac_rank",
    "DROP INDEX IF EXISTS directory_fac_commune_name",
    "DROP INDEX IF EXISTS directory_fac_location",
    "CREATE INDEX directory_fac_location ON directory_facility (dataset_id, latitude, longitude)",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in FORWARDS:
        schema_editor.execute(statement, params=None)
    Facility = apps.get_model("directory", "Facility")
    for dataset_id in Facility.objects.values_list("dataset_id", flat=True).distinct().order_by():
        ranked_sqlite.build(dataset_id)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in BACKWARDS:
        schema_editor.execute(statement, params=None)
    earlier = importlib.import_module("directory.migrations.0003_search_indexes")
    for statement in earlier._fts5("directory_facility", ("name_folded", "commune_folded")):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("directory", "0005_location_covering_six_letter_keys")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
