"""Field-level encryption of PHI, envelope style.

* Master keys come only from the environment (``FIELD_ENCRYPTION_KEYS``: the first wraps, all unwrap);
  they are never stored in the database, so never in a backup of it.
* Each organization has its own random 256-bit data keys (versioned, for rotation) and one index key for
  blind indexes, stored wrapped by a master key in ``crypto.OrganizationKey``: deleting an
  organization's rows there crypto-shreds its data, in the live database and in every backup.
* Values are sealed with AES-256-GCM (``cryptography``'s AESGCM), a random 96-bit nonce each, bound by the
  associated data to their table, column, primary key and organization: a ciphertext copied to another
  row, column or organization does not open.

Modules: ``masterkeys`` (the setting), ``models`` (wrapped keys), ``keyring`` (unwrap, cache, create,
shred), ``cipher`` (seal and open one value), ``fields`` (model fields), ``blind`` (blind index tokens),
``rotation`` (re-wrap and re-encrypt), ``checks`` (start-up verification).
"""
