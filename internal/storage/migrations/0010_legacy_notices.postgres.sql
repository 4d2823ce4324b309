-- One row per sunset notice sent: a client, a user, the sunset it
-- announced and the milestone (days before it). The primary key makes the
-- insert that claims a notice fail for every replica but one, so each user
-- gets each notice once however many replicas run.
CREATE TABLE legacy_notices (
    client_id varchar(64) NOT NULL,
    user_id varchar(64) NOT NULL,
    sunset timestamptz NOT NULL,
    days integer NOT NULL,
    sent_at timestamptz NOT NULL,
    CONSTRAINT legacy_notices_pkey PRIMARY KEY (client_id, user_id, sunset, days)
);
