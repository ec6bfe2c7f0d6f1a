"""Privacy and the life of records: retention and legal holds, a person's export and erasure,
consent notices, the access audit, and backups (docs/privacy.md)."""
