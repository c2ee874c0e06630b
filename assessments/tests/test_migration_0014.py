"""Migration 0014 lets a history item be unknown (NULL) without touching the rows that exist: a recorded
"no" stays "no" and a "yes" stays "yes" (only new answers can be unknown)."""

from datetime import date

import pytest
from django.db import connection

from medilens.testing.migrations import leaves, migrate

BEFORE = [("assessments", "0013_discussion_names")]
AFTER = [("assessments", "0014_patient_history_unknown")]
HISTORY = ["has_diabetes", "treated_hypertension", "current_smoker", "on_statin", "prior_cardiovascular_disease"]


@pytest.fixture
def at_0013(transactional_db):
    # rls.0002 depends on assessments 0014: going back unapplies it.
    apps = migrate([*BEFORE, *(leaf for leaf in leaves() if leaf[0] not in ("assessments", "rls"))])
    try:
        yield apps
    finally:
        migrate(leaves())


def test_recorded_answers_keep_their_values(at_0013):
    organization = at_0013.get_model("accounts", "Organization").objects.create(slug="m14", name="M14")
    Patient = at_0013.get_model("assessments", "Patient")  # noqa: N806 - a model class
    no = Patient.objects.create(organization=organization, mrn="M13-1", mrn_index="a" * 64, given_name="A",
                                family_name="B", date_of_birth=date(1970, 1, 1), sex_at_birth="male")
    yes = Patient.objects.create(organization=organization, mrn="M13-2", mrn_index="b" * 64, given_name="C",
                                 family_name="D", date_of_birth=date(1971, 1, 1), sex_at_birth="female",
                                 **dict.fromkeys(HISTORY, True))
    apps = migrate(AFTER)
    rows = {pk: values for pk, *values in apps.get_model("assessments", "Patient").objects.values_list("pk", *HISTORY)}
    assert rows[no.pk] == [False] * 5
    assert rows[yes.pk] == [True] * 5
    with connection.cursor() as cursor:
        columns = {c.name: c for c in connection.introspection.get_table_description(cursor, "assessments_patient")}
    assert all(columns[name].null_ok for name in HISTORY)
