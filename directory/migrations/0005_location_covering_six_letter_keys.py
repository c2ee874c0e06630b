"""PostgreSQL only; SQLite keeps its plain location index and has no keys.

1. The location index also holds what a search near a point filters and orders on besides the coordinates
   (category, department, name rank) and the id it returns, so that the search reads the index alone (an
   index-only scan) instead of every establishment of the latitude band from the table: 6.2 ms against 1.6 for a
   50 km circle with a category over 100,000 establishments (benchmarks/directory_search.py).
2. The key table's primary key index also holds the facility's id (INCLUDE), so that a key read is an
   index-only scan: without it each key row was fetched from the table, at random (4.2 ms against 0.3 for 512
   rows). Same columns, same name: the model's primary key is unchanged.
3. Word-start keys of six letters (directory/search/keys.py): datasets imported before get theirs here; the
   reverse removes them.
"""

from django.db import migrations

from directory.search import keys

COVERING = (
    "CREATE INDEX directory_fac_location ON directory_facility (dataset_id, latitude, longitude) "
    "INCLUDE (category_code, department_code, name_rank, id)"
)
PLAIN = "CREATE INDEX directory_fac_location ON directory_facility (dataset_id, latitude, longitude)"
KEY_PRIMARY = (
    f"ALTER TABLE {keys.TABLE} DROP CONSTRAINT directory_facility_key_pkey, "
    "ADD CONSTRAINT directory_facility_key_pkey PRIMARY KEY (dataset_id, key, name_rank)"
)
SIX = 6


def _location_index(schema_editor, statement: str) -> None:
    schema_editor.execute("DROP INDEX IF EXISTS directory_fac_location", params=None)
    schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _location_index(schema_editor, COVERING)
    schema_editor.execute(KEY_PRIMARY + " INCLUDE (facility_id)", params=None)
    Facility = apps.get_model("directory", "Facility")
    for dataset_id in Facility.objects.values_list("dataset_id", flat=True).distinct().order_by():
        keys.build(dataset_id, (SIX,), rank=False)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _location_index(schema_editor, PLAIN)
    schema_editor.execute(KEY_PRIMARY, params=None)
    schema_editor.execute(f"DELETE FROM {keys.TABLE} WHERE length(key) = %s", params=[SIX])


class Migration(migrations.Migration):
    dependencies = [("directory", "0004_facility_word_keys")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
