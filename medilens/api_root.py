"""GET /api/v1/: where a partner starts. Links to the resources and the documentation, no tenant data (the
resources themselves need a key), so it is public like the docs pages."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, renderer_classes
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse

RESOURCES = {
    "organization": "api:organization",
    "patients": "api:patient-list",
    "assessments": "api:assessment-list",
    "webhooks": "api:webhook-list",
    "fhir": "api:fhir-metadata",
    "directory_facilities": "api:directory-facility-list",
    "directory_medicines": "api:directory-medicine-list",
}
DOCS = {"schema": "api:schema", "docs": "api:docs", "redoc": "api:redoc"}


@extend_schema(exclude=True)
@api_view(["GET", "HEAD"])
@authentication_classes([])
@permission_classes([AllowAny])
@renderer_classes([JSONRenderer])
def api_root(request):
    def link(name):
        return reverse(name, request=request)

    return Response(
        {
            "name": "MediLens API",
            "version": "v1",
            "authentication": "Send an organization's API key as `Authorization: Bearer <key>`.",
            "resources": {key: link(name) for key, name in RESOURCES.items()},
            "documentation": {key: link(name) for key, name in DOCS.items()},
        }
    )
