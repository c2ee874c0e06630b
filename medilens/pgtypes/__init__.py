"""How rows are read from PostgreSQL: psycopg's compiled loader for ``timestamptz``, where Django installs a
pure-Python one (``loaders.py``)."""
