"""The state layer: what the live system looks like, read into values the layers above share.

It sits between the engines (one server program each) and converge/ops (what billdb does
about the state): Patroni's view of the cluster and admin connections to it
(`state.cluster`), how a plan value compares with what `pg_settings` reports
(`state.pgvalues`), PgBouncer's console and connection strings (`state.pooler`), and the
throwaway scratch server that lint and the schema check start
(`state.scratch`). docs/architecture.md draws the layers.
"""
