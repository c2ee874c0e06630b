"""What a scrape exports: one process's registry, or every process's through PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .queues import QueueDepthCollector


def scrape_registry(*, with_queues: bool = True) -> CollectorRegistry:
    """The registry to export: in multiprocess mode a fresh one that reads every process's files (the
    default registry would hold this process's figures only), else the default; plus the queue depths."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        if with_queues:
            registry.register(QueueDepthCollector())
        return registry
    if not with_queues:
        return REGISTRY
    registry = CollectorRegistry()
    registry.register(_Delegate(REGISTRY))
    registry.register(QueueDepthCollector())
    return registry


class _Delegate:
    """The default registry's metrics inside another registry (read at each collect, never copied)."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        yield from self.source.collect()


def exposition(*, with_queues: bool = True) -> bytes:
    return generate_latest(scrape_registry(with_queues=with_queues))
