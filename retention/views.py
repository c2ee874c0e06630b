"""Retention pages for organization admins: who will be purged in the next 30 days, and the legal hold."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.access import OrganizationMixin
from assessments.models import Patient

from . import selectors, services

PER_PAGE = 25
HOLD_VALUES = {"place": True, "release": False}


class UpcomingPurgesView(OrganizationMixin, View):
    required_permission = "retention.manage"

    def get(self, request):
        organization = request.organization
        page_obj = Paginator(selectors.due_for_purge(organization), PER_PAGE).get_page(request.GET.get("page"))
        return render(
            request,
            "retention/upcoming.html",
            {
                "page_obj": page_obj,
                "held": selectors.held_patients(organization)[:200],
                "notice_days": selectors.NOTICE_DAYS,
                "retention_days": organization.data_retention_days,
            },
        )


class LegalHoldView(OrganizationMixin, View):
    required_permission = "retention.manage"

    def post(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        hold = HOLD_VALUES.get(request.POST.get("hold", ""))
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = reverse("assessments:patient_detail", args=[patient.pk])
        if hold is None:
            messages.error(request, "Choose whether to place or release the legal hold.")
            return redirect(target)
        services.set_legal_hold(actor=request.user, organization=request.organization, patient=patient, hold=hold)
        if hold:
            messages.success(request, "Legal hold placed: this patient will not be purged until it is released.")
        else:
            messages.success(request, "Legal hold released: retention applies to this patient again.")
        return redirect(target)
