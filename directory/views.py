"""Portal pages of the reference directory: facility and medicine search, for every member. A bad
parameter is a 400 with its reason beside its field, never an empty result that looks like "nothing here"."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from accounts.access import OrganizationMixin
from assessments import services as patient_services

from .models import Source
from .search import facilities, medicines, params
from .search.hits import current_dataset
from .search.near_patient import near_patient

PER_PAGE = 25


def _values(request) -> dict:
    values = request.GET.dict()
    # The portal's category list is a multiple select (category=101&category=355); the API takes commas.
    if len(request.GET.getlist("category")) > 1:
        values["category"] = ",".join(request.GET.getlist("category"))
    return values


def _page(hits, request):
    return Paginator(list(hits.ids) if hits else [], PER_PAGE).get_page(request.GET.get("page"))


class FacilitySearchView(OrganizationMixin, View):
    required_permission = "directory.view"
    template_name = "directory/facility_list.html"

    def get(self, request):
        values = _values(request)
        errors: dict[str, list[str]] = {}
        patient_note = ""
        if values.get("patient"):
            outcome = near_patient(values, may_read_patients=self.has_permission("patients.view"))
            values, patient_note = outcome.params, outcome.note
            errors.update(outcome.errors)
            if outcome.patient is not None:  # the patient's postcode was read: a read of patient data
                patient_services.record_view(actor=request.user, organization=request.organization, obj=outcome.patient)
        dataset_id = current_dataset(Source.FINESS)
        categories = facilities.categories(dataset_id)
        query = hits = None
        try:
            query = params.facility_query(values, known_categories=categories)
        except ValidationError as error:
            errors.update(error.message_dict)
        if not errors:
            hits = facilities.search(query, dataset_id)
        page_obj = _page(hits, request)
        rows = facilities.rows(hits, page_obj.object_list, query) if hits else []
        context = {
            "values": values,
            "errors": errors,
            "categories": categories,
            "hits": hits,
            "page_obj": page_obj,
            "facilities": rows,
            "patient_note": patient_note,
            "max_radius_km": params.MAX_RADIUS_KM,
            "default_radius_km": params.DEFAULT_RADIUS_KM,
            "selected_categories": query.categories if query else (),
            "near": query.near if query else None,
        }
        return render(request, self.template_name, context, status=400 if errors else 200)


class MedicineSearchView(OrganizationMixin, View):
    required_permission = "directory.view"
    template_name = "directory/medicine_list.html"

    def get(self, request):
        values = _values(request)
        errors: dict[str, list[str]] = {}
        hits = None
        try:
            hits = medicines.search(params.medicine_query(values))
        except ValidationError as error:
            errors = error.message_dict
        page_obj = _page(hits, request)
        rows = medicines.rows(page_obj.object_list) if hits else []
        context = {"values": values, "errors": errors, "hits": hits, "page_obj": page_obj, "medicines": rows}
        return render(request, self.template_name, context, status=400 if errors else 200)
