-- Jobs' artifacts archives (GitLab's POST jobs/:id/artifacts), kept in the
-- database in chunks of up to 1 MiB so that neither a write nor a read
-- needs the whole archive in memory.

-- +goose Up
CREATE TABLE artifacts (
	job_id   INTEGER NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
	filename TEXT    NOT NULL,
	format   TEXT    NOT NULL,
	size     INTEGER NOT NULL,
	sha256   TEXT    NOT NULL,
	chunks   INTEGER NOT NULL,
	expires  INTEGER NOT NULL DEFAULT 0,
	created  INTEGER NOT NULL
);

CREATE TABLE artifact_chunks (
	job_id INTEGER NOT NULL REFERENCES artifacts (job_id) ON DELETE CASCADE,
	seq    INTEGER NOT NULL,
	data   BLOB    NOT NULL,
	PRIMARY KEY (job_id, seq)
);

-- +goose Down
DROP TABLE artifact_chunks;
DROP TABLE artifacts;
