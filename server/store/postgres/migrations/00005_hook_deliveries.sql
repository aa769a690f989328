-- The webhook deliveries a repository received, so that a redelivery
-- does not build again (kept a week, pruned by the server).

-- +goose Up
CREATE TABLE hook_deliveries (
	repo_id  BIGINT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	delivery TEXT   NOT NULL,
	received BIGINT NOT NULL,
	build    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (repo_id, delivery)
);
CREATE INDEX hook_deliveries_received ON hook_deliveries (received);

-- +goose Down
DROP TABLE hook_deliveries;
