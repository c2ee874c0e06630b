"""Retention: patients whose record has been inactive longer than their organization keeps data are
purged with everything they own, unless a legal hold stops it (see services)."""
