-- Jobs' artifacts archives (GitLab's POST jobs/:id/artifacts), kept in the
-- database in chunks of up to 1 MiB so that neither a write nor a read
-- needs the whole archive in memory.

-- +goose Up
CREATE TABLE artifacts (
	job_id   BIGINT NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
	filename TEXT    NOT NULL,
	format   TEXT    NOT NULL,
	size     BIGINT NOT NULL,
	sha256   TEXT    NOT NULL,
	chunks   BIGINT NOT NULL,
	expires  BIGINT NOT NULL DEFAULT 0,
	created  BIGINT NOT NULL
);

CREATE TABLE artifact_chunks (
	job_id BIGINT NOT NULL REFERENCES artifacts (job_id) ON DELETE CASCADE,
	seq    BIGINT NOT NULL,
	data   BYTEA    NOT NULL,
	PRIMARY KEY (job_id, seq)
);

-- +goose Down
DROP TABLE artifact_chunks;
DROP TABLE artifacts;
