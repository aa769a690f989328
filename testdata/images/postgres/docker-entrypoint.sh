#!/usr/bin/env bash
# Entrypoint of slipway's offline test image "postgres:15" (installed as
# /usr/local/bin/docker-entrypoint.sh by scripts/testimages.sh).
#
# A small re-implementation of the official postgres image's basic
# contract:
#   POSTGRES_USER             superuser name (default: postgres)
#   POSTGRES_PASSWORD         its password (optional, see below)
#   POSTGRES_DB               database created on first start (default: $POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD pg_hba method for TCP clients from any host
#                             (default: scram-sha-256 when a password is set,
#                             trust otherwise)
#   POSTGRES_INITDB_ARGS      extra initdb arguments
#   PGDATA                    data directory (default: /var/lib/postgresql/data)
#   *_FILE variants           (e.g. POSTGRES_PASSWORD_FILE) read the value from a file
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz run once after initdb
#
# If the first argument is "postgres" (or starts with "-", which means
# "postgres <flags>") the server is initialised when PGDATA is empty and
# then exec'ed in the foreground as the postgres user, listening on
# '*':5432. Any other command is exec'ed as given.
set -Eeuo pipefail

PGBIN=/usr/lib/postgresql/15/bin
export PATH="$PGBIN:$PATH"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

log() { printf '%s docker-entrypoint: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }

# file_env VAR [DEFAULT]: VAR or VAR_FILE (not both) or DEFAULT.
file_env() {
	local var=$1 fvar="${1}_FILE" def=${2:-} val
	if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
		log "error: both $var and $fvar are set (but are exclusive)"
		exit 1
	fi
	val=$def
	if [ -n "${!var:-}" ]; then
		val=${!var}
	elif [ -n "${!fvar:-}" ]; then
		val=$(<"${!fvar}")
	fi
	export "$var=$val"
	unset "$fvar"
}

if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
	exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
	# Root: fix ownership of the directories the server writes, then
	# re-run this script as the postgres user.
	mkdir -p "$PGDATA" /var/run/postgresql
	chmod 00700 "$PGDATA"
	chown -R postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 03775 /var/run/postgresql
	export HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres
	exec setpriv --reuid=postgres --regid=postgres --init-groups -- "${BASH_SOURCE[0]}" "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
export POSTGRES_USER POSTGRES_DB

if [ -n "${POSTGRES_HOST_AUTH_METHOD:-}" ]; then
	auth=$POSTGRES_HOST_AUTH_METHOD
elif [ -n "$POSTGRES_PASSWORD" ]; then
	auth=scram-sha-256
else
	auth=trust
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	log "initialising database cluster in $PGDATA (superuser $POSTGRES_USER, host auth $auth)"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
		log "warning: no POSTGRES_PASSWORD set, '$auth' logins for $POSTGRES_USER will fail"
	fi
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA"

	pwfile=()
	if [ -n "$POSTGRES_PASSWORD" ]; then
		pwtmp=$(mktemp)
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwtmp"
		pwfile=(--pwfile="$pwtmp")
	fi
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is split on purpose
	initdb --username="$POSTGRES_USER" "${pwfile[@]}" \
		--encoding=UTF8 --locale=C.UTF-8 --no-sync \
		--auth-local=trust --auth-host="$auth" \
		$POSTGRES_INITDB_ARGS >/dev/null
	if [ -n "${pwtmp:-}" ]; then rm -f "$pwtmp"; fi

	cat >>"$PGDATA/postgresql.conf" <<-'EOF'

		# added by docker-entrypoint.sh
		listen_addresses = '*'
		port = 5432
		unix_socket_directories = '/var/run/postgresql'
	EOF
	{
		echo
		echo '# added by docker-entrypoint.sh: any host, any user, any database'
		echo "host all all all $auth"
	} >>"$PGDATA/pg_hba.conf"

	# Temporary server on the Unix socket only, to create the database
	# and run /docker-entrypoint-initdb.d.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 60 start >/dev/null
	export PGHOST=/var/run/postgresql PGPORT=5432 PGUSER="$POSTGRES_USER"
	psql_run=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --dbname postgres)
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql_run[@]}" --set db="$POSTGRES_DB" -q <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
	fi
	psql_run=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --dbname "$POSTGRES_DB")
	if [ -d /docker-entrypoint-initdb.d ]; then
		shopt -s nullglob
		for f in /docker-entrypoint-initdb.d/*; do
			case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					log "running $f"
					"$f"
				else
					log "sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) log "running $f"; "${psql_run[@]}" -f "$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | "${psql_run[@]}" ;;
			*) log "ignoring $f" ;;
			esac
		done
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	unset PGHOST PGPORT PGUSER
	log "initialisation done; ready for start up"
else
	log "database directory $PGDATA already initialised; skipping initdb"
fi

exec "$@"
