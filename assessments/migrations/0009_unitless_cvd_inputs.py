"""Stored cardiovascular-risk inputs lose the units in their names (issue 13): ``total_cholesterol_mg_dl``,
``hdl_cholesterol_mg_dl`` and ``creatinine_mg_dl`` become ``total_cholesterol``, ``hdl_cholesterol`` and
``creatinine``, with the unit in ``cholesterol_unit`` / ``creatinine_unit`` (mg/dL: the values were stored
converted). One format afterwards, so the worker, the pages and the API read one set of names. Frozen here:
a migration must not import today's input schema."""

from django.db import migrations

MG_DL = "mg/dL"
RENAMED = {
    "total_cholesterol_mg_dl": ("total_cholesterol", "cholesterol_unit"),
    "hdl_cholesterol_mg_dl": ("hdl_cholesterol", "cholesterol_unit"),
    "creatinine_mg_dl": ("creatinine", "creatinine_unit"),
}


def unitless(inputs):
    converted = dict(inputs)
    for old, (new, unit) in RENAMED.items():
        if old in converted:
            converted[new] = converted.pop(old)
            converted[unit] = MG_DL
    return converted


def with_units(inputs):
    converted = dict(inputs)
    for old, (new, unit) in RENAMED.items():
        if new in converted:
            converted[old] = converted.pop(new)
            converted.pop(unit, None)
    return converted


def _convert(apps, change):
    Assessment = apps.get_model("assessments", "Assessment")
    rows = Assessment._base_manager.filter(modality="cvd_risk").only("pk", "inputs")
    for row in rows.iterator(chunk_size=2000):
        converted = change(row.inputs or {})
        if converted != row.inputs:
            Assessment._base_manager.filter(pk=row.pk).update(inputs=converted)


def forwards(apps, schema_editor):
    _convert(apps, unitless)


def backwards(apps, schema_editor):
    _convert(apps, with_units)


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0008_patient_retention"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
