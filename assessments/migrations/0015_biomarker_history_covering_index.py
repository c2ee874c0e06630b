"""The biomarker trend query (selectors.patient_biomarker_history) answered from its index alone on PostgreSQL:
``biomarker_history_idx`` is rebuilt with the columns the query reads as INCLUDE columns, under the same name
and keys, so the model's Index (and every later migration that names it) still describes it.

Why: a patient's values of one biomarker arrive over years, interleaved with other patients', so each lies on
a heap page of its own: the plain index scan read 29 buffers for a patient's 25 values, the index-only scan 5
(at 100,000 rows; 11 and no heap fetch at 10 M: benchmarks/trend_query.py, benchmarks/README.md). Heap fetches come back only for rows written since the
last vacuum (the visibility map), which autovacuum keeps few.

Not on SQLite (the embedded default), which has no covering indexes (declaring ``include`` on the model
would raise the models.W040 warning there). The rebuild runs inside the migration's transaction and locks
the table against writes while it builds; on a large production table build the new index first with
CREATE INDEX CONCURRENTLY under another name, then drop the old one and rename it (README).
"""

from django.db import migrations

INCLUDE = (
    "value", "unit", "flag", "reference_low", "reference_high", "reference_low_inclusive",
    "reference_high_inclusive", "assessment_id", "id",
)
KEYS = "organization_id, patient_id, name, measured_at DESC"


def _rebuild(schema_editor, include: tuple[str, ...]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.connection.ops.quote_name
    covering = f" INCLUDE ({', '.join(quote(column) for column in include)})" if include else ""
    schema_editor.execute("DROP INDEX IF EXISTS biomarker_history_idx")
    schema_editor.execute(f"CREATE INDEX biomarker_history_idx ON assessments_biomarkervalue ({KEYS}){covering}")


def forwards(apps, schema_editor):
    _rebuild(schema_editor, INCLUDE)


def backwards(apps, schema_editor):
    _rebuild(schema_editor, ())


class Migration(migrations.Migration):
    dependencies = [("assessments", "0014_patient_history_unknown")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
