"""link_to: one reverse() per list, the same links as reverse() for every row."""

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import NoReverseMatch, path, register_converter, reverse, set_script_prefix

from medilens.row_links import link_to

VIEWS = ["assessments:patient_detail", "assessments:assessment_detail", "assessments:patient_timeline"]


@pytest.mark.parametrize("viewname", VIEWS)
def test_each_link_is_what_reverse_gives(viewname):
    link = link_to(viewname)
    for pk in [uuid.uuid4() for _ in range(20)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]:
        assert link(pk) == reverse(viewname, args=[pk])
        assert link(str(pk)) == reverse(viewname, args=[str(pk)])


def test_the_script_prefix_of_the_request_is_kept():
    set_script_prefix("/medilens/")
    try:
        pk = uuid.uuid4()
        assert link_to("assessments:patient_detail")(pk) == f"/medilens/patients/{pk}/"
    finally:
        set_script_prefix("/")


def test_a_key_that_is_not_a_uuid_is_refused_as_reverse_refuses_it():
    link = link_to("assessments:patient_detail")
    with pytest.raises(NoReverseMatch):
        reverse("assessments:patient_detail", args=["../admin"])
    with pytest.raises(ValueError):
        link("../admin")


class HexConverter:
    """Writes a UUID as 32 hex digits: reverse() and a str(uuid) substitution would disagree."""

    regex = "[0-9a-f]{32}"

    def to_python(self, value):
        return uuid.UUID(hex=value)

    def to_url(self, value):
        return uuid.UUID(str(value)).hex


register_converter(HexConverter, "test_hex")
urlpatterns = [path("hex/<test_hex:pk>/", lambda request, pk: None, name="hex")]


def test_a_view_whose_route_does_not_write_the_uuid_as_reverse_would_is_refused():
    with pytest.raises(NoReverseMatch):
        link_to("assessments:patient_list")  # takes no argument
    with override_settings(ROOT_URLCONF=__name__), pytest.raises(ImproperlyConfigured):
        link_to("hex")
