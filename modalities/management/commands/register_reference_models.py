"""Register the committed reference models (idempotent; the demo calls it).

For each file in modalities/reference_models/: check it against its committed .sha256, upload it to
default storage at models/<modality>/<name>/<version>/<sha256>.safetensors, create its ModelVersion
(is_reference=True, intended use "not for clinical use", the validation metrics embedded in the file)
and activate it when its modality has no active platform-wide version. Run again, it changes nothing:
an existing version is left as it is (and its stored weights are put back if they went missing).

A reference model was trained on generated data and is never for clinical use, so it is activated only on
the embedded demo (no DATABASE_URL). With DATABASE_URL set the command registers it as a draft and
activates it only when given ``--activate-outside-demo``, an explicit step the audit log records.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from modalities import services
from modalities.models import ModelVersion

from . import build_reference_model as reference

DIRECTORY = Path(__file__).resolve().parents[2] / "reference_models"
# name -> what the file does not say about itself
REFERENCE_MODELS = {
    reference.NAME: {"file": f"{reference.NAME}.safetensors", "limitations": reference.LIMITATIONS},
}


def committed_weights(name: str) -> tuple[bytes, str]:
    """The committed file's bytes and SHA-256, refused if they do not match the committed .sha256."""
    path = DIRECTORY / REFERENCE_MODELS[name]["file"]
    data = path.read_bytes()
    recorded = Path(f"{path}.sha256").read_text().split()[0].lower()
    digest = hashlib.sha256(data).hexdigest()
    if digest != recorded:
        raise CommandError(f"{path.name} does not match {path.name}.sha256 ({digest} != {recorded}); not registered.")
    return data, digest


class Command(BaseCommand):
    help = "Register (and, where no version is active, activate) the committed reference models."

    def add_arguments(self, parser):
        parser.add_argument(
            "--activate-outside-demo",
            action="store_true",
            help="With DATABASE_URL set, also activate a reference model (not for clinical use); audited.",
        )

    def handle(self, *args, **options):
        for name, entry in REFERENCE_MODELS.items():
            data, digest = committed_weights(name)
            description = reference.description_of(data)
            modality, version = description["modality"], description["version"]
            existing = ModelVersion.objects.filter(
                modality=modality, name=name, version=version, organization__isnull=True
            ).first()
            if existing is None:
                try:
                    existing = services.upload_model_version(
                        acting_user=None,
                        modality=modality,
                        name=name,
                        version=version,
                        architecture=description["architecture"],
                        weights=data,
                        input_spec=description["input_spec"],
                        output_labels=description["labels"],
                        intended_use=description["intended_use"],
                        limitations=entry["limitations"],
                        validation_metrics=description["validation_metrics"],
                        is_reference=True,
                    )
                except ValidationError as error:
                    raise CommandError(f"{name}: {' '.join(error.messages)}") from None
                self.stdout.write(f"{name} {version}: registered for {modality} (SHA-256 {digest})")
            elif existing.weights_sha256 != digest:
                self.stdout.write(
                    self.style.WARNING(
                        f"{name} {version} is registered with other weights (SHA-256 {existing.weights_sha256}); "
                        "left as it is. Register rebuilt weights under a new version."
                    )
                )
                continue
            else:
                services._store_weights(existing.weights_key, data, digest)  # puts them back if they went missing
            if not ModelVersion.objects.filter(
                modality=modality, status=ModelVersion.Status.ACTIVE, organization__isnull=True
            ).exists():
                if existing.status == ModelVersion.Status.RETIRED:
                    self.stdout.write(f"{name} {version} is retired: not reactivated (staff retired it).")
                    continue
                if not settings.EMBEDDED and not options["activate_outside_demo"]:
                    self.stdout.write(
                        f"{name} {version}: registered, not activated: a reference model (not for clinical use) "
                        "is activated automatically only on the embedded demo. Pass --activate-outside-demo to "
                        "activate it here anyway (recorded in the audit log)."
                    )
                    continue
                services.activate_model_version(
                    acting_user=None, model_version=existing, allow_reference=options["activate_outside_demo"]
                )
                self.stdout.write(f"{name} {version}: activated for {modality} (no version was active)")
