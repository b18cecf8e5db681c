-- Scope names are unique within a resource server only: one organization's orders:read is
-- not another's, so the first to define a name no longer takes it from everyone. The table
-- is rebuilt (SQLite cannot drop a constraint); every row is kept as it was.
CREATE TABLE resource_scopes_by_server (
    resource_id TEXT NOT NULL REFERENCES resource_servers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (resource_id, name)
);
INSERT INTO resource_scopes_by_server (resource_id, name, description)
    SELECT resource_id, name, description FROM resource_scopes;
DROP TABLE resource_scopes;
ALTER TABLE resource_scopes_by_server RENAME TO resource_scopes;
