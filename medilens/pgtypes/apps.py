from django.apps import AppConfig


class PostgresTypesConfig(AppConfig):
    name = "medilens.pgtypes"
    label = "pgtypes"
    verbose_name = "PostgreSQL type loaders"

    def ready(self):
        from .loaders import install

        install()
