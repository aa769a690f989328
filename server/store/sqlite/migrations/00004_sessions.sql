-- The web interface's sessions: the cookie holds the id, the table its hash.

-- +goose Up
CREATE TABLE sessions (
	id_hash BLOB    PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);

-- +goose Down
DROP TABLE sessions;
