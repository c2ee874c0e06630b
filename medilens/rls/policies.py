"""The policies, found from the models rather than listed by hand.

A tenant table is any table with an ``organization_id`` column. Each gets RLS enabled and FORCEd (so the
table owner is held too, unless it is a superuser or has BYPASSRLS) and the policy ``medilens_tenant``:
its rows are those of ``app.organization_id``, for reading (USING) and for writing (WITH CHECK). With no
organization set, ``NULLIF(..., '')`` makes the comparison NULL, so nothing is visible or writable.

A few tables need one narrow extra (permissive policies are OR-ed), each the least that a flow needs:

* ``accounts_membership``: a signed-in user reads their own memberships (``app.user_id``): that is how a
  request finds its tenant;
* ``accounts_apiclient``: the API key lookup reads the client with the key's prefix (``app.api_key_prefix``),
  and then checks the key's digest;
* ``accounts_invitation``: the invitation link's page reads the invitation whose token digest it holds
  (``app.invitation_digest``); accepting it then writes in the invitation's organization;
* ``assessments_assessment``: a worker's task reads the assessment it was given (``app.assessment_id``)
  to learn its organization, then works in that organization's scope;
* ``modalities_modelversion``: platform-wide versions (no organization) are readable by every tenant;
* ``audit_auditevent``: platform events (no organization: sign-ins, failed sign-ins) may be appended and
  read back (Django inserts with RETURNING); they belong to no tenant.
"""

TENANT_POLICY = "medilens_tenant"
EXTRA_POLICY = "medilens_lookup"
ORGANIZATION = "NULLIF(current_setting('app.organization_id', true), '')::bigint"


def _setting(name: str, cast: str = "") -> str:
    return f"NULLIF(current_setting('{name}', true), ''){cast}"


EXTRA = {
    "accounts_membership": f"FOR SELECT USING (user_id = {_setting('app.user_id', '::bigint')})",
    "accounts_invitation": f"FOR SELECT USING (token_digest = {_setting('app.invitation_digest')})",
    "accounts_apiclient": f"FOR SELECT USING (key_prefix = {_setting('app.api_key_prefix')})",
    "assessments_assessment": f"FOR SELECT USING (id = {_setting('app.assessment_id', '::uuid')})",
    "modalities_modelversion": "FOR SELECT USING (organization_id IS NULL)",
    # ALL, not INSERT alone: Django inserts with RETURNING, which needs the new row to be readable too.
    # Updates and deletes stay refused by the append-only triggers.
    "audit_auditevent": "FOR ALL USING (organization_id IS NULL) WITH CHECK (organization_id IS NULL)",
}


def tenant_tables(apps) -> list[str]:
    """Every concrete, managed table with an ``organization_id`` column, from an app registry (the
    migration's historical one, or the live one for the completeness test)."""
    tables = set()
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        if any(field.column == "organization_id" for field in meta.concrete_fields):
            tables.add(meta.db_table)
    return sorted(tables)


def statements(table: str, quote) -> list[str]:
    name = quote(table)
    sql = [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {name}",
        f"CREATE POLICY {TENANT_POLICY} ON {name} "
        f"USING (organization_id = {ORGANIZATION}) WITH CHECK (organization_id = {ORGANIZATION})",
        f"DROP POLICY IF EXISTS {EXTRA_POLICY} ON {name}",
    ]
    if table in EXTRA:
        sql.append(f"CREATE POLICY {EXTRA_POLICY} ON {name} {EXTRA[table]}")
    return sql


def apply(apps, schema_editor) -> None:
    """Migration body: idempotent, PostgreSQL only (SQLite has no RLS: django-scopes alone there)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for table in tenant_tables(apps):
        for sql in statements(table, connection.ops.quote_name):
            schema_editor.execute(sql)


def remove(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for table in tenant_tables(apps):
        name = connection.ops.quote_name(table)
        for sql in (
            f"DROP POLICY IF EXISTS {EXTRA_POLICY} ON {name}",
            f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {name}",
            f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY",
        ):
            schema_editor.execute(sql)


def unprotected_tables(connection, tables) -> list[str]:
    """Of ``tables``, those without RLS enabled + forced and the tenant policy (for the completeness test
    and the start-up check)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = ANY(%s) AND c.relrowsecurity "
            "AND c.relforcerowsecurity AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid "
            "AND p.polname = %s)",
            [list(tables), TENANT_POLICY],
        )
        protected = {row[0] for row in cursor.fetchall()}
    return sorted(set(tables) - protected)
