from functools import cached_property

from rest_framework import serializers

from directory.models import Facility, Medicine
from directory.search import facilities, medicines


class _RowSerializer(serializers.ModelSerializer):
    """Serializes the dicts a search's ``rows()`` reads (Meta.fields, nothing else), each value through its own
    field's ``to_representation`` as DRF does, without DRF's attribute lookups per field and row: they were half
    of a page's time (50 rows of 19 fields; benchmarks/directory_search.py). Every field is a plain column
    (no ``source``, no method field), which is what makes the dict's key the field's name."""

    @cached_property
    def _converters(self):
        return [(field.field_name, field.to_representation) for field in self._readable_fields]

    def to_representation(self, row):
        return {name: None if (value := row[name]) is None else convert(value) for name, convert in self._converters}


class FacilitySerializer(_RowSerializer):
    distance_km = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Great-circle distance from `near`, when it was given."
    )

    class Meta:
        model = Facility
        fields = [*facilities.FIELDS, "distance_km"]
        read_only_fields = fields


class MedicineSerializer(_RowSerializer):
    class Meta:
        model = Medicine
        fields = medicines.FIELDS
        read_only_fields = fields
