"""Triggers for the sealed chain, below the ORM like those of 0002.

* Seals and cut-overs are append-only, as events are.
* Every inserted event is queued for sealing in the same statement (``audit_pendingseal``), so no writer
  can forget it and no writer takes a lock or a second round trip for it.
* PostgreSQL: an event inserted without a ``sequence`` gets its id as its append number, so ``record`` is
  one INSERT (SQLite has no such trigger: ``record`` reads the next id inside its write transaction).
* On SQLite, 0003 rebuilt ``audit_auditevent`` (SQLite alters a column by copying the table), which drops
  its triggers: they are created again here. A later migration that alters that table on SQLite must do
  the same; a test checks every trigger is present after migrating.
"""

from django.db import migrations

PG_FORWARD = [
    """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""",
    """CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_auditseal
       FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();""",
    """CREATE TRIGGER audit_cutover_append_only BEFORE UPDATE OR DELETE ON audit_chaincutover
       FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();""",
    """
CREATE OR REPLACE FUNCTION audit_event_queue_for_seal() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_pendingseal (event_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
""",
    """CREATE TRIGGER audit_event_queue AFTER INSERT ON audit_auditevent
       FOR EACH ROW EXECUTE FUNCTION audit_event_queue_for_seal();""",
    """
CREATE OR REPLACE FUNCTION audit_event_append_number() RETURNS trigger AS $$
BEGIN
    IF NEW.sequence IS NULL THEN
        NEW.sequence := NEW.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
""",
    """CREATE TRIGGER audit_event_append_number BEFORE INSERT ON audit_auditevent
       FOR EACH ROW EXECUTE FUNCTION audit_event_append_number();""",
]
PG_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_append_number ON audit_auditevent;",
    "DROP FUNCTION IF EXISTS audit_event_append_number();",
    "DROP TRIGGER IF EXISTS audit_event_queue ON audit_auditevent;",
    "DROP FUNCTION IF EXISTS audit_event_queue_for_seal();",
    "DROP TRIGGER IF EXISTS audit_cutover_append_only ON audit_chaincutover;",
    "DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;",
    "DROP FUNCTION IF EXISTS audit_refuse_change();",
]


def _sqlite_refusals(table: str, prefix: str) -> list[str]:
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {prefix}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END;""",
        f"""CREATE TRIGGER IF NOT EXISTS {prefix}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END;""",
    ]


SQLITE_FORWARD = [
    *_sqlite_refusals("audit_auditevent", "audit_event"),
    *_sqlite_refusals("audit_auditseal", "audit_seal"),
    *_sqlite_refusals("audit_chaincutover", "audit_cutover"),
    """CREATE TRIGGER IF NOT EXISTS audit_event_queue AFTER INSERT ON audit_auditevent
       BEGIN INSERT INTO audit_pendingseal (event_id) VALUES (NEW.id); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_queue;",
    "DROP TRIGGER IF EXISTS audit_cutover_no_update;",
    "DROP TRIGGER IF EXISTS audit_cutover_no_delete;",
    "DROP TRIGGER IF EXISTS audit_seal_no_update;",
    "DROP TRIGGER IF EXISTS audit_seal_no_delete;",
]


def _run(schema_editor, statements):
    # A raw cursor without parameters: the PL/pgSQL bodies use '%' as their own placeholder.
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_FORWARD)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_REVERSE)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_legacy_cutover")]
    operations = [migrations.RunPython(forward, reverse)]
