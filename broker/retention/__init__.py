"""Retention: delete operational data after `settings.retention_days`; the ledger stays."""
