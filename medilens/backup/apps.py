from django.apps import AppConfig


class BackupConfig(AppConfig):
    name = "medilens.backup"
    label = "backup"
    verbose_name = "Backup and restore"
