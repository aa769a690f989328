-- Webhooks of mirrored repositories, and what a restarted build keeps of
-- the build it restarts.

-- +goose Up
-- A repository's webhook secret, sealed like a secret's value: GitHub's
-- and Gitea's signatures are HMACs keyed with it, so it cannot be hashed.
CREATE TABLE repo_hooks (
	repo_id INTEGER NOT NULL PRIMARY KEY REFERENCES repos (id) ON DELETE CASCADE,
	sealed  BLOB    NOT NULL
);

-- parent: the number of the build this one restarts (0: none);
-- before_sha: the ref's value before the push, for rules: changes.
ALTER TABLE builds ADD COLUMN parent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN before_sha TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE builds DROP COLUMN before_sha;
ALTER TABLE builds DROP COLUMN parent;
DROP TABLE repo_hooks;
