"""The API docs pages (drf-spectacular, assets from drf-spectacular-sidecar) under the site's
Content-Security-Policy, each widened only as far as its library needs, and only on its own page; nothing
is fetched from another origin."""

import hashlib
from functools import cache
from pathlib import Path

from csp.decorators import csp_update
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.templatetags.static import static
from django.utils.decorators import method_decorator
from django.views.decorators.gzip import gzip_page
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

# Swagger UI's stylesheet draws its icons as data: SVG images. Its start-up script comes from this view's
# own URL (the split view), so no inline script is needed.
SWAGGER_POLICY = {"img-src": ["data:"]}

# Redoc (drf-spectacular-sidecar 2026.10.1) writes <style> elements at run time: styled-components' are
# empty (rules go in through the CSSOM, which the policy does not govern) and perfect-scrollbar's holds a
# fixed stylesheet. Their hashes allow exactly those two contents; any other inline style stays blocked
# (Redoc's own `nonce` option does not reach its styles in this build). Its search runs in a worker made
# from a blob: URL, and its link icons are data: images. A sidecar update that changes any of this shows
# as a violation, with the new hash, in tests/browser/test_browser_csp.py.
REDOC_POLICY = {
    "style-src": [
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's stylesheet
    ],
    "img-src": ["data:"],
    "worker-src": ["blob:"],
}

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# Redoc's side menu ends with "API docs by Redocly" and Redocly's logo, fetched from its CDN on every view
# with no option to turn it off. The bundle served here gives the image an empty data: source instead:
# nothing leaves the site, and Redoc hides an image that fails to load (the text link stays).
CDN_LOGO = 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_LOGO = 'src:"data:,"'
_SOURCE_MAP = "//# sourceMappingURL=redoc.standalone.js.map"


@cache
def redoc_bundle() -> tuple[bytes, str]:
    """The sidecar's Redoc bundle without the CDN logo, and a digest of it for the URL (so it can be
    cached for good: another bundle is another URL)."""
    path = finders.find(REDOC_BUNDLE)
    if path is None:
        raise ImproperlyConfigured(f"{REDOC_BUNDLE} not found: is drf_spectacular_sidecar installed?")
    source = Path(path).read_text(encoding="utf-8")
    if source.count(CDN_LOGO) != 1:
        raise ImproperlyConfigured(f"{REDOC_BUNDLE} changed: its CDN logo ({CDN_LOGO}) is not where it was")
    source = source.replace(CDN_LOGO, NO_LOGO).replace(_SOURCE_MAP, f"//# sourceMappingURL={static(REDOC_BUNDLE)}.map")
    content = source.encode("utf-8")
    return content, hashlib.sha256(content).hexdigest()[:16]


@method_decorator(csp_update(SWAGGER_POLICY), name="dispatch")
class SwaggerView(SpectacularSwaggerSplitView):
    pass


@method_decorator(csp_update(REDOC_POLICY), name="dispatch")
class RedocView(SpectacularRedocView):
    """The page, and (with ?bundle=<digest>) the Redoc bundle it loads, as the Swagger split view serves
    its script from its own URL."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        if "bundle" in request.GET:
            return _bundle_response(request)
        self._bundle_url = f"{request.path}?bundle={redoc_bundle()[1]}"
        return super().get(request, *args, **kwargs)

    def _redoc_standalone(self):
        return self._bundle_url


@gzip_page
def _bundle_response(request):
    content, _ = redoc_bundle()
    response = HttpResponse(content, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
