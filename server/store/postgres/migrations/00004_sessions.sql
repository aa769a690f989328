-- The web interface's sessions: the cookie holds the id, the table its hash.

-- +goose Up
CREATE TABLE sessions (
	id_hash BYTEA  PRIMARY KEY,
	user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);

-- +goose Down
DROP TABLE sessions;
