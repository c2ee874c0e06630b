"""Admin for platform staff: imports are read-only records; sources show what readers see, and can be
rolled back or re-imported from their URL setting (staff only, like every admin page; the service checks again)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from . import services
from .models import DirectoryImport, DirectorySource


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DirectoryImport)
class DirectoryImportAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "source", "status", "step", "progress", "rows", "file_size", "duration_ms", "started_by", "started_at",
        "reason",
    ]
    list_filter = ["source", "status"]
    list_select_related = ["started_by"]


@admin.register(DirectorySource)
class DirectorySourceAdmin(ReadOnlyAdmin):
    list_display = ["source", "current", "previous", "updated_at"]
    list_select_related = ["current", "previous"]
    actions = ["roll_back", "import_now"]

    @admin.action(description="Roll back to the previous import")
    def roll_back(self, request, queryset):
        for row in queryset:
            try:
                current = services.rollback(source=row.source, actor=request.user)
            except (services.ImportRefused, PermissionDenied) as error:
                self.message_user(request, f"{row.source}: {error}", messages.ERROR)
                continue
            self.message_user(request, f"{row.source}: import #{current.pk} is current again.", messages.SUCCESS)

    @admin.action(description="Import now from the source's URL setting")
    def import_now(self, request, queryset):
        from .tasks import import_directory

        try:
            services.check_may_import(request.user)
        except PermissionDenied as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        for row in queryset:
            import_directory.delay(row.source, user_id=request.user.pk)
            self.message_user(request, f"{row.source}: import queued; follow it under Directory imports.")
