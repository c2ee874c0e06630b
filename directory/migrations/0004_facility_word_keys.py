"""The facility search's word-start keys (directory/search/keys.py): each facility's rank in name order and the
key table, on both databases, filled on PostgreSQL only (SQLite searches with its FTS5 tables). On PostgreSQL also
a b-tree on (commune, name), so that the commune tier is read in its order (directory/search/matching.py); the
(dataset, commune) index it replaces served only commune prefixes, which the new one serves too. Datasets imported
before this migration get their keys here.
"""

from django.db import migrations, models

from directory.search import keys

FORWARDS = [
    'CREATE INDEX directory_fac_commune_name ON directory_facility (dataset_id, commune_folded COLLATE "C", '
    'name_folded COLLATE "C", id)',
    "DROP INDEX IF EXISTS directory_fac_commune",
]
BACKWARDS = [
    'CREATE INDEX directory_fac_commune ON directory_facility (dataset_id, commune_folded COLLATE "C")',
    "DROP INDEX IF EXISTS directory_fac_commune_name",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARDS:
        schema_editor.execute(statement, params=None)
    Facility = apps.get_model("directory", "Facility")
    for dataset_id in Facility.objects.values_list("dataset_id", flat=True).distinct().order_by():
        keys.build(dataset_id)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARDS:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("directory", "0003_search_indexes")]

    operations = [
        migrations.AddField(
            model_name="facility", name="name_rank", field=models.IntegerField(blank=True, editable=False, null=True)
        ),
        migrations.CreateModel(
            name="FacilityKey",
            fields=[
                ("pk", models.CompositePrimaryKey("dataset_id", "key", "name_rank", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),  # fmt: skip
                ("dataset_id", models.BigIntegerField()),
                ("key", models.CharField(max_length=8)),
                ("name_rank", models.IntegerField()),
                ("facility_id", models.BigIntegerField()),
            ],
            options={"db_table": "directory_facility_key"},
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
