"""gunicorn's post_worker_init hook freezes what the loaded application holds and raises the youngest
generation's threshold (medilens/gc_tuning.py): run in a fresh
interpreter, as a worker would after loading the app, since it changes the whole process's collector."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json
import medilens.gunicorn_config as config
from medilens.gc_tuning import THRESHOLDS
loaded = [object() for _ in range(1000)]  # what the application loaded
before = gc.get_freeze_count()
config.post_worker_init(None)
print(json.dumps({"before": before, "after": gc.get_freeze_count(), "threshold": gc.get_threshold(),
                  "wanted": THRESHOLDS, "enabled": gc.isenabled()}))
"""


def test_a_worker_freezes_the_loaded_heap_and_collects_its_young_garbage_less_often():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["before"] == 0 and figures["after"] > 1000
    assert tuple(figures["threshold"]) == tuple(figures["wanted"]) and figures["threshold"][0] > 700
    assert figures["enabled"]  # still collecting: frozen is not disabled
