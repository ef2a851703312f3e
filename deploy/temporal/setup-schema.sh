#!/bin/sh
# Temporal's schema on its PostgreSQL, run by the temporal-schema job before the server starts.
# Safe to repeat: `setup-schema -v 0.0` leaves a versioned database as it is and `update-schema`
# applies only the versions it lacks (which is also how a Temporal upgrade updates the schema).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"
}

sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$SCHEMA/temporal/versioned"
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"
echo "Temporal schema is up to date"
