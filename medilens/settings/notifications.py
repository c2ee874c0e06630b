"""Notifications (notifications/): the app and the header bell's unread count."""

from .base import *  # noqa: F403 (these settings build on the base's)

if "notifications" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS.append("notifications")  # noqa: F405
_processors = TEMPLATES[0]["OPTIONS"]["context_processors"]  # noqa: F405
if "notifications.context_processors.unread" not in _processors:
    _processors.append("notifications.context_processors.unread")
