#!/bin/sh
# Temporal's two databases in PostgreSQL: `temporal` (histories, the state of every workflow)
# and `temporal_visibility` (list and search). Run by compose.cluster.yaml's `temporal-schema`
# job before the server starts, at every `up`: it creates what is missing and applies the
# schema versions the admin-tools image has that the databases do not (so a newer server
# image is upgraded here first). Connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER,
# SQL_PASSWORD, SQL_TLS and SQL_TLS_DISABLE_HOST_VERIFICATION (temporal-sql-tool's variables).
set -eu

schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
    # there is no "if not exists": a database kept from an earlier run fails here, harmlessly
    # (any other failure, such as a wrong password, also fails the next command)
    temporal-sql-tool --db "$db" create-database || echo "database $db: kept"
done
temporal-sql-tool --db temporal setup-schema -v 0.0
temporal-sql-tool --db temporal update-schema -d "$schema/temporal/versioned"
temporal-sql-tool --db temporal_visibility setup-schema -v 0.0
temporal-sql-tool --db temporal_visibility update-schema -d "$schema/visibility/versioned"
echo "temporal schema: up to date"
