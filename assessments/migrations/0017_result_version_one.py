"""Version 1 for every assessment completed before result versions existed: a snapshot of the result on the
row, its biomarker values and explanation, and its sign-off (who, when and the note: a sign-off names the
version it signs). Reversing removes the versions (0015's reverse drops the table anyway)."""

from django.db import migrations

BIOMARKER_FIELDS = (
    "name", "category", "value", "unit", "reference_low", "reference_high", "reference_low_inclusive",
    "reference_high_inclusive", "flag",
)


def _biomarkers(rows):
    return [
        {**{name: getattr(row, name) for name in BIOMARKER_FIELDS}, "measured_at": row.measured_at.isoformat()}
        for row in sorted(rows, key=lambda row: (row.category, row.name))
    ]


def create_first_versions(apps, schema_editor):
    assessment_model = apps.get_model("assessments", "Assessment")
    version_model = apps.get_model("assessments", "ResultVersion")
    biomarker_model = apps.get_model("assessments", "BiomarkerValue")
    explanation_model = apps.get_model("assessments", "AIExplanation")
    done = set(version_model.objects.values_list("assessment_id", flat=True))
    completed = assessment_model.objects.filter(status="completed").order_by("pk")
    for assessment in completed.iterator(chunk_size=500):
        if assessment.pk in done:
            continue
        explanation = explanation_model.objects.filter(assessment_id=assessment.pk).first()
        version = version_model(
            organization_id=assessment.organization_id,
            assessment_id=assessment.pk,
            number=1,
            risk_score=assessment.risk_score,
            risk_level=assessment.risk_level,
            confidence=assessment.confidence,
            recommendations=assessment.recommendations,
            results=assessment.results,
            biomarkers=_biomarkers(biomarker_model.objects.filter(assessment_id=assessment.pk)),
            method_version=assessment.method_version,
            model_version_id=assessment.model_version_id,
            explanation_summary=explanation.summary if explanation else "",
            explanation_contributions=explanation.contributions if explanation else [],
            explanation_image_key=explanation.image_key if explanation else "",
            signed_off_by_id=assessment.reviewed_by_id,
            signed_off_at=assessment.reviewed_at,
            # Opened from the assessment's column and sealed again for the version's own row.
            review_note=assessment.review_note if assessment.reviewed_at else "",
        )
        version.save(force_insert=True)
        # created_at is auto_now_add: the version dates from the analysis, not from this migration.
        version_model.objects.filter(pk=version.pk).update(created_at=assessment.completed_at or assessment.updated_at)


def remove_versions(apps, schema_editor):
    apps.get_model("assessments", "ResultVersion").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("assessments", "0016_result_versions")]

    operations = [migrations.RunPython(create_first_versions, remove_versions)]
