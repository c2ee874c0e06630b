"""Modality name -> analyzer. Analyzers register themselves when their module is imported (see
ModalitiesConfig.ready)."""

from importlib import import_module

from .base import Analyzer, DemoCase, Modality

_ANALYZERS: dict[str, Analyzer] = {}


class UnknownModality(KeyError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(name)

    def __str__(self):
        return f"'{self.name}' is not a modality. Choose one of: {', '.join(sorted(_ANALYZERS))}."


def register(analyzer_class: type[Analyzer]) -> type[Analyzer]:
    analyzer = analyzer_class()
    modality = getattr(analyzer_class, "modality", None)
    if not isinstance(modality, Modality):
        raise ValueError(f"analyzer {analyzer_class.__name__} declares no Modality")
    if not modality.name or modality.name in _ANALYZERS:
        raise ValueError(f"analyzer name {modality.name!r} is missing or registered twice")
    if not modality.stages:
        raise ValueError(f"analyzer {modality.name!r} declares no stages")
    _ANALYZERS[modality.name] = analyzer
    return analyzer_class


def get(name: str) -> Analyzer:
    try:
        return _ANALYZERS[name]
    except (KeyError, TypeError):
        raise UnknownModality(str(name)) from None


def names() -> list[str]:
    return sorted(_ANALYZERS)


def choices() -> list[tuple[str, str]]:
    return [(name, _ANALYZERS[name].modality.label) for name in names()]


def demo_cases(name: str) -> list[DemoCase]:
    """The demo's generated inputs for a modality. Its generator module is imported here, on demand: the worker,
    which imports every analyzer, never loads one."""
    module = get(name).modality.demo_module
    return import_module(module).demo_cases() if module else []
