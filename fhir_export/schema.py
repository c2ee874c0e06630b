"""An OpenAPI post-processing hook: FHIR's operation paths keep their "$".

drf-spectacular turns a URL pattern into a path with Django's ``simplify_regex``, which drops "$" as a
regex anchor, so ``Patient/<id>/$everything`` would be documented as ``Patient/{id}/everything``, a path
that does not exist."""

OPERATIONS = ("everything",)


def operation_paths(result, generator, request, public):
    paths = {}
    for path, item in result.get("paths", {}).items():
        head, _, last = path.rpartition("/")
        if path.startswith("/api/v1/fhir/") and last in OPERATIONS:
            path = f"{head}/${last}"
        paths[path] = item
    result["paths"] = paths
    return result
