"""HTML to PDF with WeasyPrint, loading nothing but what ``fetcher.ReportFetcher`` allows."""

from __future__ import annotations

from django.template.loader import render_to_string

from .resources import BASE_URL


def render_pdf(template_name: str, context: dict, *, storage_keys=()) -> bytes:
    html = render_to_string(template_name, context)
    return html_to_pdf(html, storage_keys=storage_keys)


def html_to_pdf(html: str, *, storage_keys=()) -> bytes:
    # Imported here: WeasyPrint loads Pango and its fonts at import, which pages that never render a
    # report (and the worker) need not pay for.
    from .fetcher import ReportFetcher
    from .weasy import HTML

    fetcher = ReportFetcher(storage_keys=storage_keys)
    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf()
