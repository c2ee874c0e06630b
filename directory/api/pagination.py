"""Paging through a ranked search. The ranked ids of one search of one import are fixed (an import never
changes once loaded), so a cursor is the position in that ranking, signed, with the import it belongs to:
after a new import an old cursor is refused (400) rather than continuing in different data."""

from django.core import signing
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from assessments.api.pagination import Cursor
from directory.search.hits import MAX_RESULTS

_SALT = "directory.search.cursor"


class RankedCursor(Cursor):
    """The API's cursor pagination (page_size from 1 to 200, a 400 for a cursor it did not issue) over a
    search's ranked ids."""

    def paginate_hits(self, hits, request) -> tuple[int, ...]:
        self.request, self.hits = request, hits
        self.size = self.get_page_size(request)
        self.offset = self._offset(request, hits)
        return hits.ids[self.offset : self.offset + self.size]

    def _offset(self, request, hits) -> int:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return 0
        try:
            dataset_id, offset = signing.loads(raw, salt=_SALT)
        except (signing.BadSignature, TypeError, ValueError):
            message = "This cursor is not one this API issued: follow the `next` or `previous` link as given."
            raise serializers.ValidationError({self.cursor_query_param: [message]}) from None
        if dataset_id != hits.dataset_id:
            message = "The directory was updated since this cursor was issued: start the search again."
            raise serializers.ValidationError({self.cursor_query_param: [message]})
        return max(0, min(int(offset), len(hits.ids)))

    def _link(self, offset: int) -> str:
        url = self.request.build_absolute_uri()
        if offset <= 0:
            return remove_query_param(url, self.cursor_query_param)
        return replace_query_param(
            url, self.cursor_query_param, signing.dumps([self.hits.dataset_id, offset], salt=_SALT)
        )

    def get_paginated_response(self, data):
        end = self.offset + self.size
        return Response(
            {
                "next": self._link(end) if end < len(self.hits.ids) else None,
                "previous": self._link(self.offset - self.size) if self.offset > 0 else None,
                "count": len(self.hits.ids),
                "limited": self.hits.limited,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"] = {
            "type": "integer",
            "description": f"Matches kept (the best first, at most {MAX_RESULTS}).",
        }
        response["properties"]["limited"] = {
            "type": "boolean",
            "description": "More rows matched than were kept: narrow the search to see the others.",
        }
        response["required"] = ["results", "count", "limited"]
        return response
