"""How a report's HTML names what it loads: URLs under ``BASE_URL`` that only ``fetcher.ReportFetcher``
answers. Kept apart from the fetcher so building a report's context does not import WeasyPrint (about two
seconds and Pango, which only rendering needs)."""

SCHEME = "medilens-report"
BASE_URL = f"{SCHEME}://report/"
STATIC_PREFIX = "/static/"
STORAGE_PREFIX = "/storage/"


# Full URLs, not paths: urllib joins relative URLs only for the schemes it knows, so a path would stay a
# path (and be refused) under this base URL.
def static_url(path: str) -> str:
    """The URL a report's HTML names one of our static files by (``reports/report.css``)."""
    return f"{BASE_URL.rstrip('/')}{STATIC_PREFIX}{path}"


def storage_url(key: str) -> str:
    """The URL a report's HTML names a storage object by (the fetcher opens it if the key was listed)."""
    return f"{BASE_URL.rstrip('/')}{STORAGE_PREFIX}{key}"
