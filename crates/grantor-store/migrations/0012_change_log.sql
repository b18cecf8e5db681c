-- Configuration changes as an ordered log that names what changed (an app, an organization,
-- a resource server, a user, a membership, a key...), so each node evicts those entries of
-- its cache and nothing else. An entry's version is config_version's value after its
-- change: the counter row's lock orders changes by commit, so a node that has read up to
-- version n has missed none at or below n. Entries are kept a day; a node further behind
-- than that drops its whole cache instead.
CREATE TABLE config_changes (
    version BIGINT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX config_changes_version ON config_changes (version);
CREATE INDEX config_changes_at ON config_changes (at);

-- Lookups and pages that must not scan or sort every organization's rows.
CREATE INDEX resource_servers_org ON resource_servers (org_id);
CREATE INDEX resource_scopes_name ON resource_scopes (name);
CREATE INDEX apps_org_name ON apps (org_id, name, client_id);
