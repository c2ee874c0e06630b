from django.apps import AppConfig
from django.db.backends.signals import connection_created


class RowSecurityConfig(AppConfig):
    name = "medilens.rls"
    label = "rls"
    verbose_name = "Row-Level Security"

    def ready(self):
        from .stamp import install

        connection_created.connect(install, dispatch_uid="medilens.rls.install")
