from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the model and a database trigger refuse changes anyway; admin does not offer them."""

    list_display = [
        "occurred_at", "organization", "chain_sequence", "action", "outcome", "actor_label", "target_type", "target_id"
    ]
    list_filter = ["organization", "actor_type", "outcome", "action", "occurred_at"]
    search_fields = ["action", "actor_label", "target_id", "request_id"]
    date_hierarchy = "occurred_at"
    list_select_related = ["organization", "seal"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # The event's place in its chain and the value that covers it (its seal's MAC, or its legacy hash).
        return [field.name for field in self.model._meta.fields] + ["chain_sequence", "hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
