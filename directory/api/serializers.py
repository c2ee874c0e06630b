from rest_framework import serializers

from directory.models import Facility, Medicine


class FacilitySerializer(serializers.ModelSerializer):
    distance_km = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Great-circle distance from `near`, when it was given."
    )

    class Meta:
        model = Facility
        fields = [
            "finess",
            "finess_legal",
            "name",
            "long_name",
            "category_code",
            "category_label",
            "address",
            "postcode",
            "commune_code",
            "commune",
            "department_code",
            "department_label",
            "region_code",
            "region_label",
            "phone",
            "latitude",
            "longitude",
            "services",
            "distance_km",
        ]
        read_only_fields = fields


class MedicineSerializer(serializers.ModelSerializer):
    class Meta:
        model = Medicine
        fields = [
            "cip13",
            "name",
            "atc1",
            "atc1_label",
            "atc2",
            "atc2_label",
            "atc3",
            "atc3_label",
            "atc4",
            "atc4_label",
            "atc5",
            "atc5_label",
            "generic_group",
            "generic_status",
            "year",
            "boxes",
            "reimbursed_amount",
            "base_amount",
        ]
        read_only_fields = fields
