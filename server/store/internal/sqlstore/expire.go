package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// DeleteExpiredArtifacts implements store.Artifacts; the chunks go with
// their archive's row (ON DELETE CASCADE).
func (db *DB) DeleteExpiredArtifacts(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, "DELETE FROM artifacts WHERE expires > 0 AND expires < ?", unixNano(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired artifacts: %w", err)
	}
	return res.RowsAffected()
}
