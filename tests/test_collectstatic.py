"""The production static files: `collectstatic` with the storage production uses (whitenoise's compressed manifest,
medilens/settings/base.py) succeeds over every file the project ships, vendored ones included. The Docker image runs
it at build time (Dockerfile); a file that references one the manifest cannot find (a source map left out) stops it
there, as the vendored model-viewer bundle did until its sourceMappingURL line was removed."""

from pathlib import PurePath

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_with_the_production_manifest_storage_succeeds(tmp_path):
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    # Compression (gzip and Brotli of every file: 35 s here) checks nothing the manifest has not: skipped.
    every_extension = {
        PurePath(path).suffix.lstrip(".") for finder in finders.get_finders() for path, _storage in finder.list([])
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages,
                           WHITENOISE_SKIP_COMPRESS_EXTENSIONS=sorted(every_extension)):  # fmt: skip
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/model-viewer/model-viewer.min.js" in manifest and "vendor/htmx.min.js" in manifest
