-- Brownouts: windows before a client's sunset during which the legacy
-- password grant is refused, so that owners discover what still depends on
-- it while there is still time. legacy_migration_url on the client says
-- where to read how to move off the grant.
CREATE TABLE client_brownouts (
    id bigserial NOT NULL,
    client_id varchar(64) NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_by varchar(200) NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT client_brownouts_pkey PRIMARY KEY (id)
);
CREATE INDEX idx_client_brownouts_client_id ON client_brownouts (client_id, starts_at);
ALTER TABLE clients ADD COLUMN legacy_migration_url varchar(2048) DEFAULT '' NOT NULL;
