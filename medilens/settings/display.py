"""How pages show values the same way everywhere. The date filters are template built-ins, so a page
cannot forget to load them and fall back to another format."""

from .base import TEMPLATES

TEMPLATES[0]["OPTIONS"].setdefault("builtins", []).append("medilens.templatetags.medilens_dates")
