"""One way to show a moment in time on every page: "6 Dec 2026, 14:29 UTC", in the portal's time zone
(settings.TIME_ZONE) and naming it, inside a <time> element that carries the exact instant.

A built-in of the template engine (settings/display.py), so templates need no {% load %}. Dates without a
time (a birth date) keep ``|date:"j M Y"``: they are not instants and have no time zone.
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date
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
