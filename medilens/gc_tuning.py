"""The cyclic garbage collector, tuned for a long-running web worker (gunicorn's post_worker_init,
medilens/gunicorn_config.py). Not applied to the Celery workers: A/B runs of
benchmarks/pipeline_throughput.py showed no difference there beyond the machine's noise.

``freeze_loaded_heap()`` moves everything loaded so far (Django, the apps, their libraries: hundreds of
thousands of objects that live as long as the process) out of the collector's reach with ``gc.freeze()``,
and collects the youngest generation every 50,000 allocations instead of 700. Without it, a full collection
walked that whole heap every few requests: 11 ms per request on average for the API's assessment list in
the load test's seed, 4.5 ms with the freeze, 2.8 ms with both (a scratch measure with Django's test client,
production settings; README "Load"). Garbage is still collected: requests' reference cycles in
the young generations, and what the frozen heap drops is freed by reference counting as always (a frozen
object that becomes cyclic garbage is kept, a bounded cost).
"""

import gc

THRESHOLDS = (50_000, 20, 100)


def freeze_loaded_heap() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
