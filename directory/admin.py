"""Admin for platform staff: imports are read-only records; sources show what readers see."""

from django.contrib import admin

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
    list_display = ["id", "source", "status", "step", "progress", "rows", "duration_ms", "started_by", "started_at"]
    list_filter = ["source", "status"]
    list_select_related = ["started_by"]


@admin.register(DirectorySource)
class DirectorySourceAdmin(ReadOnlyAdmin):
    list_display = ["source", "current", "previous", "updated_at"]
    list_select_related = ["current", "previous"]
