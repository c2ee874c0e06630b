"""One way to show a moment everywhere: "6 Dec 2026, 14:29 UTC", naming the portal's time zone."""

from datetime import UTC, datetime

from django.template import engines
from django.test import override_settings

from medilens.templatetags.medilens_dates import timestamp, timestamp_text

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
