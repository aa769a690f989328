-- slipway's store on SQLite. Times are Unix nanoseconds (0: none); lists
-- (needs, tags) are JSON text; job_tags repeats a job's tags as rows for
-- the claim's tag rule.

-- +goose Up
CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	login      TEXT    NOT NULL UNIQUE,
	admin      BOOLEAN NOT NULL DEFAULT FALSE,
	token_hash BLOB    NOT NULL UNIQUE,
	created    INTEGER NOT NULL
);

CREATE TABLE repos (
	id            INTEGER PRIMARY KEY,
	owner_id      INTEGER NOT NULL REFERENCES users (id),
	namespace     TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	trusted       BOOLEAN NOT NULL DEFAULT FALSE,
	config_path   TEXT    NOT NULL DEFAULT '',
	clone_url     TEXT    NOT NULL DEFAULT '',
	max_requeues  INTEGER NOT NULL DEFAULT 1,
	build_counter INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	UNIQUE (namespace, name)
);

CREATE TABLE repo_members (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (repo_id, user_id)
);

CREATE TABLE secrets (
	repo_id      INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	sealed       BLOB    NOT NULL,
	pull_request BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (repo_id, name)
);

CREATE TABLE variables (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	name    TEXT    NOT NULL,
	value   TEXT    NOT NULL,
	masked  BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (repo_id, name)
);

CREATE TABLE builds (
	id         INTEGER PRIMARY KEY,
	repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	number     INTEGER NOT NULL,
	status     TEXT    NOT NULL,
	event      TEXT    NOT NULL DEFAULT '',
	sender     TEXT    NOT NULL DEFAULT '',
	ref        TEXT    NOT NULL DEFAULT '',
	commit_sha TEXT    NOT NULL DEFAULT '',
	message    TEXT    NOT NULL DEFAULT '',
	error      TEXT    NOT NULL DEFAULT '',
	created    INTEGER NOT NULL,
	started    INTEGER NOT NULL DEFAULT 0,
	finished   INTEGER NOT NULL DEFAULT 0,
	UNIQUE (repo_id, number)
);

CREATE TABLE jobs (
	id               INTEGER PRIMARY KEY,
	build_id         INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
	position         INTEGER NOT NULL,
	name             TEXT    NOT NULL,
	stage            TEXT    NOT NULL DEFAULT '',
	needs            TEXT    NOT NULL DEFAULT '[]',
	run_when         TEXT    NOT NULL DEFAULT 'on_success',
	allow_failure    BOOLEAN NOT NULL DEFAULT FALSE,
	tags             TEXT    NOT NULL DEFAULT '[]',
	has_tags         BOOLEAN NOT NULL DEFAULT FALSE,
	status           TEXT    NOT NULL,
	document         BLOB,
	runner_id        INTEGER NOT NULL DEFAULT 0,
	token_hash       BLOB UNIQUE,
	lease_expires    INTEGER NOT NULL DEFAULT 0,
	requeues         INTEGER NOT NULL DEFAULT 0,
	cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
	exit_code        INTEGER NOT NULL DEFAULT 0,
	failure_reason   TEXT    NOT NULL DEFAULT '',
	upstream_failed  BOOLEAN NOT NULL DEFAULT FALSE,
	log_length       INTEGER NOT NULL DEFAULT 0,
	created          INTEGER NOT NULL,
	started          INTEGER NOT NULL DEFAULT 0,
	finished         INTEGER NOT NULL DEFAULT 0,
	UNIQUE (build_id, name)
);
CREATE INDEX jobs_build ON jobs (build_id, position);
CREATE INDEX jobs_queue ON jobs (id) WHERE status = 'pending';
CREATE INDEX jobs_leases ON jobs (lease_expires) WHERE status = 'running';

CREATE TABLE job_tags (
	job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	tag    TEXT    NOT NULL,
	PRIMARY KEY (job_id, tag)
);

CREATE TABLE runners (
	id           INTEGER PRIMARY KEY,
	description  TEXT    NOT NULL DEFAULT '',
	token_hash   BLOB    NOT NULL UNIQUE,
	tags         TEXT    NOT NULL DEFAULT '[]',
	run_untagged BOOLEAN NOT NULL DEFAULT FALSE,
	created      INTEGER NOT NULL,
	contacted    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE log_chunks (
	job_id  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	pos     INTEGER NOT NULL,
	end_pos INTEGER NOT NULL,
	data    BLOB    NOT NULL,
	PRIMARY KEY (job_id, pos)
);

-- +goose Down
DROP TABLE log_chunks;
DROP TABLE runners;
DROP TABLE job_tags;
DROP TABLE jobs;
DROP TABLE builds;
DROP TABLE variables;
DROP TABLE secrets;
DROP TABLE repo_members;
DROP TABLE repos;
DROP TABLE users;
