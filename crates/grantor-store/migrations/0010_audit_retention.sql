-- An optional retention period (audit_retention_days) deletes audit events older than it, in
-- every organization at once: by this index, not a scan of the whole log.
CREATE INDEX audit_events_at ON audit_events (at);
