"""The bell's pages: the signed-in user's notifications in the active organization, marking them read,
and the email choices. A user reaches only their own notifications: another's is a 404."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.access import OrganizationMixin

from . import services
from .forms import EmailPreferencesForm
from .kinds import EMAIL_BY_DEFAULT, EMAIL_CHOICE
from .models import EmailPreference, Notification

PER_PAGE = 25
# Every member may read their notifications; changing them is a write, which auditors never make.
PERMISSION = "dashboard.view"
MANAGE = "notifications.manage"


class NotificationListView(OrganizationMixin, View):
    required_permission = PERMISSION

    def get(self, request):
        mine = Notification.objects.filter(recipient=request.user).order_by("-created_at", "-id")
        page_obj = Paginator(mine, PER_PAGE).get_page(request.GET.get("page"))
        return render(request, "notifications/list.html", {"page_obj": page_obj, "notifications": page_obj.object_list})


class NotificationReadView(OrganizationMixin, View):
    """POST: mark one read, then go to what it links to (``open``) or back to the list."""

    required_permission = MANAGE

    def post(self, request, pk):
        try:
            notification = services.mark_read(user=request.user, organization=request.organization, notification_id=pk)
        except Notification.DoesNotExist:
            raise Http404("No such notification.") from None
        if request.POST.get("open"):
            return redirect(notification.link)
        return redirect(_back(request))


class NotificationReadAllView(OrganizationMixin, View):
    required_permission = MANAGE

    def post(self, request):
        services.mark_all_read(user=request.user, organization=request.organization)
        return redirect(_back(request))


class EmailPreferencesView(OrganizationMixin, View):
    required_permission = MANAGE
    template_name = "notifications/preferences.html"

    def get(self, request):
        chosen = dict(EmailPreference.objects.filter(user=request.user).values_list("kind", "email"))
        initial = [kind.value for kind in EMAIL_CHOICE if chosen.get(kind.value, EMAIL_BY_DEFAULT[kind])]
        return render(request, self.template_name, {"form": EmailPreferencesForm(initial={"email": initial})})

    def post(self, request):
        form = EmailPreferencesForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        services.set_email_preferences(
            user=request.user, organization=request.organization, email_kinds=form.cleaned_data["email"]
        )
        from django.contrib import messages

        messages.success(request, "Your email choices were saved.")
        return redirect("notifications:preferences")


def _back(request) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "notifications:list"
