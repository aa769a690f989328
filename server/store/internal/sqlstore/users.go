package sqlstore

import (
	"context"
	"fmt"

	"github.com/slipway-ci/slipway/server/store"
)

const userCols = "id, login, admin, created"

func scanUser(s scanner) (store.User, error) {
	var u store.User
	var created int64
	err := s.Scan(&u.ID, &u.Login, &u.Admin, &created)
	u.Created = fromUnixNano(created)
	return u, err
}

// CreateUser implements store.Users.
func (db *DB) CreateUser(ctx context.Context, u store.User, token string) (store.User, error) {
	if u.Login == "" || token == "" {
		return store.User{}, fmt.Errorf("a user needs a login and a token")
	}
	created := now()
	err := db.w.QueryRowContext(ctx,
		"INSERT INTO users (login, admin, token_hash, created) VALUES (?, ?, ?, ?) RETURNING id",
		u.Login, u.Admin, store.HashToken(token), created).Scan(&u.ID)
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", u.Login, db.d.Classify(err))
	}
	u.Created = fromUnixNano(created)
	return u, nil
}

// UserByToken implements store.Users.
func (db *DB) UserByToken(ctx context.Context, token string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx,
		"SELECT "+userCols+" FROM users WHERE token_hash = ?", store.HashToken(token)))
	return u, notFound(err, "user token")
}

// UserByLogin implements store.Users.
func (db *DB) UserByLogin(ctx context.Context, login string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx,
		"SELECT "+userCols+" FROM users WHERE login = ?", login))
	return u, notFound(err, "user "+login)
}

// ListUsers implements store.Users.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+userCols+" FROM users ORDER BY login")
	return collect(rows, err, scanUser)
}
