"""The API's one pagination: a cursor, with the page size a partner asks for. What the schema publishes
is what is accepted: ``page_size`` is a whole number from 1 to 200 and a cursor is one this API issued;
anything else is a 400 naming the parameter, not a silently different page (DRF's default ignores a bad
page size and answers a bad cursor with a 404)."""

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 200


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-created_at"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            message = f"page_size must be a whole number from 1 to {self.max_page_size}."
            raise serializers.ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            message = "This cursor is not one this API issued: follow the `next` or `previous` link as given."
            raise serializers.ValidationError({self.cursor_query_param: [message]}) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
                parameter["description"] = f"Rows per page, from 1 to {self.max_page_size} (default {self.page_size})."
        return parameters
