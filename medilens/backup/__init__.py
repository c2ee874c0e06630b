"""Backup and restore: one encrypted archive with the database, every stored object and a manifest.

``manage.py backup DEST``, ``manage.py restore ARCHIVE [--force]`` and ``manage.py verify_backup ARCHIVE``;
the format is described in ``archive.py``, the manifest in ``manifest.py``.
"""
