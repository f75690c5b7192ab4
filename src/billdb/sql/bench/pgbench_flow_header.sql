-- pgbench script: one Bill-Inquiry service flow. The statements that follow are generated from
-- src/billdb/sql/repository/*.sql (billdb.ops.bench.pgbench); variables are bound where the
-- service binds parameters. -D gives lines, users and the constant values (a sealed bill).
\set line_number 99000000000 + random(0, :lines - 1)
\set request_id random(1, 9000000000000000000)
\set user_id random(1, :users)
\set cache_key :line_number * 10 + random(0, 2)
