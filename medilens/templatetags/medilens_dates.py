"""One way to show a moment in time on every page: "6 Dec 2026, 14:29 UTC", in the portal's time zone
(settings.TIME_ZONE) and naming it, inside a <time> element that carries the exact instant.

A built-in of the template engine (settings/display.py), so templates need no {% load %}. A calendar day
(a birth date, or the day of an instant where the time does not matter) is "14 Mar 1960" through
``|calendar_day``, also inside a <time> element.
"""

from datetime import date, datetime

from django import template
from django.utils import timezone, translation
from django.utils.dateformat import format as format_date
from django.utils.dates import MONTHS_3
from django.utils.html import format_html

register = template.Library()

DATETIME_FORMAT = "j M Y, H:i"


def timestamp_text(value: datetime) -> str:
    """The text alone (CSV-free places: emails, messages): "6 Dec 2026, 14:29 UTC"."""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    zone = local.tzname() or timezone.get_current_timezone_name()
    return f"{format_date(local, DATETIME_FORMAT)} {zone}"


@register.filter
def timestamp(value):
    """``{{ event.occurred_at|timestamp }}``: a <time> element; an empty value is an em dash."""
    if not isinstance(value, datetime):
        return "—" if value in (None, "") else value
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), timestamp_text(value))


@register.filter
def timestamp_plain(value):
    if not isinstance(value, datetime):
        return "" if value is None else value
    return timestamp_text(value)


# Django's "M" is MONTHS_3[month].title() in the active language; its date filter builds a formatter and
# looks the translation up on every call (about 70 microseconds; a patient list shows 50 days). The
# names are read once per language instead, through the same translations.
_MONTH_ABBREVIATIONS: dict[str, tuple[str, ...]] = {}


def _month_abbreviations() -> tuple[str, ...]:
    language = translation.get_language() or ""
    names = _MONTH_ABBREVIATIONS.get(language)
    if names is None:
        names = _MONTH_ABBREVIATIONS[language] = tuple(str(MONTHS_3[month]).title() for month in range(1, 13))
    return names


def calendar_day_text(value: date) -> str:
    """``|date:"j M Y"``: "14 Mar 1960"; an instant is first taken to the portal's time zone."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return f"{value.day} {_month_abbreviations()[value.month - 1]} {value.year}"


@register.filter
def calendar_day(value):
    """``{{ patient.date_of_birth|calendar_day }}``: a <time> element naming the day ("14 Mar 1960"); its
    ``datetime`` is the date, or the exact instant for a datetime. An empty value is an em dash."""
    if not isinstance(value, date):
        return "—" if value in (None, "") else value
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), calendar_day_text(value))
