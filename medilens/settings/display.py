"""How pages show values the same way everywhere. The date filters are template built-ins, so a page
cannot forget to load them and fall back to another format; so is ``{% nav_url %}``, the base template's
links reversed once per process."""

from .base import TEMPLATES

TEMPLATES[0]["OPTIONS"].setdefault("builtins", []).extend(
    ["medilens.templatetags.medilens_dates", "medilens.templatetags.medilens_links"]
)
