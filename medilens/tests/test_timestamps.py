"""One way to show a moment everywhere: "6 Dec 2026, 14:29 UTC", naming the portal's time zone."""

from datetime import UTC, date, datetime

from django.template import engines
from django.test import override_settings
from django.utils import translation

from medilens.templatetags.medilens_dates import calendar_day, calendar_day_text, timestamp, timestamp_text

MOMENT = datetime(2026, 12, 6, 14, 29, 5, tzinfo=UTC)


def test_a_moment_shows_date_time_and_zone():
    assert timestamp_text(MOMENT) == "6 Dec 2026, 14:29 UTC"
    assert str(timestamp(MOMENT)) == '<time datetime="2026-12-06T14:29:05+00:00">6 Dec 2026, 14:29 UTC</time>'


@override_settings(TIME_ZONE="Europe/Berlin")
def test_the_portals_time_zone_is_used_and_named():
    assert timestamp_text(MOMENT) == "6 Dec 2026, 15:29 CET"
    assert timestamp_text(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "1 Jul 2026, 14:00 CEST"


def test_an_empty_value_is_a_dash():
    assert timestamp(None) == "—"


def test_the_filter_is_a_builtin_of_every_template():
    template = engines["django"].from_string("{{ when|timestamp }}")
    assert template.render({"when": MOMENT}).endswith("14:29 UTC</time>")


# A calendar day: "14 Mar 1960", the same text as Django's |date:"j M Y", in a <time> element.

def _django_day(value) -> str:
    return engines["django"].from_string('{{ value|date:"j M Y" }}').render({"value": value})


def test_a_calendar_day_reads_as_djangos_date_filter_in_every_month():
    for month in range(1, 13):
        for day in (1, 9, 28):
            value = date(1960 + month, month, day)
            assert calendar_day_text(value) == _django_day(value), value
    assert str(calendar_day(date(1960, 3, 14))) == '<time datetime="1960-03-14">14 Mar 1960</time>'


@override_settings(TIME_ZONE="Pacific/Auckland")
def test_an_instants_day_is_its_day_in_the_portals_time_zone():
    late_evening_utc = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)  # 7 Dec, 09:00 in Auckland
    assert calendar_day_text(late_evening_utc) == _django_day(late_evening_utc) == "7 Dec 2026"
    assert str(calendar_day(late_evening_utc)) == '<time datetime="2026-12-06T20:00:00+00:00">7 Dec 2026</time>'


def test_month_names_follow_the_active_language():
    """The names are read once per language, not once for whichever language came first."""
    value = date(1960, 3, 14)
    assert calendar_day_text(value) == "14 Mar 1960"
    with translation.override("de"):
        assert calendar_day_text(value) == _django_day(value) == "14 Mär 1960"
    assert calendar_day_text(value) == "14 Mar 1960"


def test_an_empty_day_is_a_dash_and_other_values_pass_through():
    assert calendar_day(None) == "—" and calendar_day("") == "—"
    assert calendar_day("not a date") == "not a date"
    template = engines["django"].from_string("{{ day|calendar_day }}")
    assert template.render({"day": date(2026, 1, 2)}) == '<time datetime="2026-01-02">2 Jan 2026</time>'
