"""Modality name -> analyzer. Analyzers register themselves when their module is imported (see
ModalitiesConfig.ready)."""

from .base import Analyzer

_ANALYZERS: dict[str, Analyzer] = {}


class UnknownModality(KeyError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(name)

    def __str__(self):
        return f"'{self.name}' is not a modality. Choose one of: {', '.join(sorted(_ANALYZERS))}."


def register(analyzer_class: type[Analyzer]) -> type[Analyzer]:
    analyzer = analyzer_class()
    if not analyzer.name or analyzer.name in _ANALYZERS:
        raise ValueError(f"analyzer name {analyzer.name!r} is missing or registered twice")
    if not analyzer.stages:
        raise ValueError(f"analyzer {analyzer.name!r} declares no stages")
    _ANALYZERS[analyzer.name] = analyzer
    return analyzer_class


def get(name: str) -> Analyzer:
    try:
        return _ANALYZERS[name]
    except (KeyError, TypeError):
        raise UnknownModality(str(name)) from None


def names() -> list[str]:
    return sorted(_ANALYZERS)


def choices() -> list[tuple[str, str]]:
    return [(name, _ANALYZERS[name].label) for name in names()]
