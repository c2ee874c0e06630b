"""Settings for trying storage options in benchmarks/upload_memory.py (--s3-options): production settings
plus the S3 storage OPTIONS given as JSON in BENCH_S3_OPTIONS. Used only by that benchmark, to check
what a suggested configuration would change; the application's settings are untouched.

``transfer_config`` (a dict) becomes a boto3 TransferConfig; s3transfer attributes that boto3's
constructor does not take (e.g. ``max_in_memory_upload_chunks``) are set on it afterwards.
"""

import json
import os

from boto3.s3.transfer import TransferConfig

from medilens.settings import *  # noqa: F403
from medilens.settings import STORAGES

_options = json.loads(os.environ.get("BENCH_S3_OPTIONS", "{}"))
_transfer = _options.pop("transfer_config", None)
STORAGES["default"]["OPTIONS"].update(_options)
if _transfer is not None:
    _constructor = {
        "multipart_threshold",
        "max_concurrency",
        "multipart_chunksize",
        "max_io_queue",
        "io_chunksize",
        "use_threads",
        "max_bandwidth",
    }
    _config = TransferConfig(**{k: v for k, v in _transfer.items() if k in _constructor})
    for _name, _value in _transfer.items():
        if _name not in _constructor:
            setattr(_config, _name, _value)
    STORAGES["default"]["OPTIONS"]["transfer_config"] = _config
