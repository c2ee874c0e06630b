"""Request parsers of the API: every malformed, over-size or over-nested body becomes an APIException, so
it is answered in the API's error shape (400 or 413) and never as Django's HTML 400 or a 500.

Imported by DRF's settings while ``rest_framework.views`` loads: nothing here may import DRF's views.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.template.defaultfilters import filesizeformat
from rest_framework import exceptions, parsers
from rest_framework.utils import json as drf_json

from medilens import safe_json


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is larger than this endpoint accepts."


class TooDeeplyNested(exceptions.ParseError):
    default_code = "too_deeply_nested"
    default_detail = f"The JSON is nested more than {safe_json.MAX_DEPTH} levels deep."


def body_too_large() -> RequestTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return RequestTooLarge(
        f"The request body is larger than the {filesizeformat(limit)} limit for JSON and form fields."
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a size limit (DATA_UPLOAD_MAX_MEMORY_SIZE, which DRF's streaming read
    skips) and a nesting limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            raw = stream.read() if limit is None else stream.read(limit + 1)
        except RequestDataTooBig:
            raise body_too_large() from None
        if limit is not None and len(raw) > limit:
            raise body_too_large()
        try:
            return safe_json.loads(
                raw.decode(encoding), parse_constant=drf_json.strict_constant if self.strict else None
            )
        except safe_json.JSONTooDeep:
            raise TooDeeplyNested() from None
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; Django's refusals of a form (too large, too many fields or files) are
    SuspiciousOperations that DRF lets through to Django's HTML 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RequestDataTooBig:
            raise body_too_large() from None
        except TooManyFilesSent:
            raise exceptions.ParseError(
                f"A request may carry at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files.", code="too_many_files"
            ) from None
        except TooManyFieldsSent:
            raise exceptions.ParseError(
                f"A request may carry at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.", code="too_many_fields"
            ) from None
