"""Objects are streamed into the archive, never held whole: backing up a 48 MiB object allocates a small,
fixed amount of Python memory (django-storages' S3 ``open()`` alone would have held all 48 MiB)."""

import io
import os
import tracemalloc

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)
SIZE = 48 * 1024 * 1024


def test_a_large_object_is_backed_up_in_bounded_memory(source_storage, backup_key, s3_server, tmp_path):
    block = os.urandom(1024 * 1024)
    s3_server.client().upload_fileobj(io.BytesIO(block * (SIZE // len(block))), source_storage, "org/1/big.bin")
    assert default_storage.size("org/1/big.bin") == SIZE

    tracemalloc.start()
    try:
        call_command("backup", str(tmp_path), stdout=io.StringIO())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 16 * 1024 * 1024, f"backup held {peak / 2**20:.1f} MiB of Python memory at its peak"
    archive = next(tmp_path.glob("*.tar.age"))
    assert archive.stat().st_size > SIZE  # random bytes do not compress: the object is in there
