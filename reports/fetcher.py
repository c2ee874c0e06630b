"""What a report may load while it renders: our static files and the storage objects the report names
(by the URLs of ``resources``).

WeasyPrint fetches every URL in the HTML and CSS it renders (images, stylesheets, fonts). Its default fetcher
follows any ``http://``, ``https://``, ``file://`` or ``data:`` URL, so a value that ever reached the HTML
(a note, a future field) could make the server read a local file into a PDF or call an internal address.
``ReportFetcher`` answers only URLs under ``BASE_URL``:

- ``/static/<path>``: a file the staticfiles finders know (the report's stylesheet), by its source path
  (not the hashed name of the production manifest);
- ``/storage/<key>``: an object of the default storage whose key the caller listed for this report (the
  explanation images of the assessments it shows), never any other key.

Anything else is refused before a connection is opened; WeasyPrint then renders without that resource.
Imported only when a report renders (``rendering``): it imports WeasyPrint.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation

from medilens import storage

from .resources import SCHEME, STATIC_PREFIX, STORAGE_PREFIX
from .weasy import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)


class RefusedResource(ValueError):
    """A URL outside the report's own static files and storage objects."""


class ReportFetcher(URLFetcher):
    def __init__(self, *, storage_keys=()):
        # allowed_protocols: urllib is never asked to open another scheme, even if fetch() below changed.
        super().__init__(allowed_protocols={SCHEME}, allow_redirects=False)
        self.storage_keys = frozenset(storage_keys)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        path = posixpath.normpath(unquote(parts.path)) if parts.path else ""
        if parts.scheme == SCHEME and parts.netloc == "report" and ".." not in parts.path:
            if path.startswith(STATIC_PREFIX):
                return self._static(url, path.removeprefix(STATIC_PREFIX))
            if path.startswith(STORAGE_PREFIX) and path.removeprefix(STORAGE_PREFIX) in self.storage_keys:
                return self._stored(url, path.removeprefix(STORAGE_PREFIX))
        return self._refuse(url, parts.scheme)

    def _refuse(self, url: str, scheme: str):
        self.refused.append(url)
        # The scheme only: a URL could carry anything the HTML held.
        logger.warning("report rendering refused a %s URL", scheme or "relative")
        raise RefusedResource("only the report's static files and storage objects are loaded")

    def _static(self, url: str, relative: str):
        try:
            found = finders.find(relative)
        except SuspiciousFileOperation:
            found = None
        if not found:
            return self._refuse(url, SCHEME)
        with open(found, "rb") as handle:
            body = handle.read()
        return URLFetcherResponse(url, body, {"Content-Type": _content_type(relative)})

    def _stored(self, url: str, key: str):
        with storage.open_object(key) as handle:
            body = handle.read()
        return URLFetcherResponse(url, body, {"Content-Type": _content_type(key)})


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
