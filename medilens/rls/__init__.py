"""PostgreSQL Row-Level Security: the second tenancy wall, below django-scopes.

Every table with an ``organization_id`` column has RLS enabled and forced, with a policy that shows and
accepts only the rows of the organization named by the transaction-local setting ``app.organization_id``.
The application role (``medilens_app``) neither owns the tables nor bypasses RLS, so a query that slips
past the scoped managers (raw SQL, a misplaced ``scopes_disabled()``, a new manager) still sees only the
current organization's rows, or none when no organization is set. See README, "Row-Level Security".
"""
