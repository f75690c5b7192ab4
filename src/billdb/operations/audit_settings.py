"""Audit controls on server settings (CIS PostgreSQL 15 §3 logging, §6 settings, §7
replication) and TLS: each names the setting, the value in force and the value required."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from billdb.operations.results import control
from billdb.plan.models import Plan
from billdb.render import tls

LOG = "CIS 3 logging and auditing"
SET = "CIS 6 PostgreSQL settings"
TLS = "CIS 6.7-6.8 TLS"
REPL = "CIS 7 replication"
AUDIT = "CIS 3.2 pgaudit"

Rule = tuple[str, str, str, Callable[[str], bool], str]  # id, title, ref, test, required


def _on(v: str) -> bool:
    return v == "on"


def _off(v: str) -> bool:
    return v == "off"


_LEVELS = ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning",
           "error", "log", "fatal", "panic"]


def rules(plan: Plan) -> list[Rule]:
    return [*_log_rules(plan), *_set_rules(plan), *_tls_rules(plan), *_repl_rules(plan)]


def _log_rules(plan: Plan) -> list[Rule]:
    p, a = plan.parameters, plan.security.audit
    return [
        ("log.logging_collector", "logging_collector on", LOG, _on, "on"),
        ("log.log_connections", "log_connections on", LOG, _on, "on"),
        ("log.log_disconnections", "log_disconnections on", LOG, _on, "on"),
        ("log.log_checkpoints", "log_checkpoints on", LOG, _on, "on"),
        ("log.log_lock_waits", "log_lock_waits as the plan", LOG,
         lambda v: v == ("on" if a.log_lock_waits else "off"), "plan §10.3"),
        ("log.log_temp_files", "log_temp_files as the plan", LOG,
         lambda v: v == str(a.log_temp_files_kb), f"{a.log_temp_files_kb} kB"),
        ("log.log_line_prefix", "log_line_prefix names time, pid, user, db, app, client", LOG,
         lambda v: v == a.log_line_prefix and all(e in v for e in ("%t", "%u", "%d", "%h")),
         a.log_line_prefix),
        ("log.log_statement", "log_statement as the plan (pgaudit is the audit trail)", LOG,
         lambda v: v == a.log_statement, a.log_statement),
        ("log.log_min_duration_statement", "slow statements logged", LOG,
         lambda v: v == str(p.log_min_duration_statement_ms),
         f"{p.log_min_duration_statement_ms} ms"),
        ("log.log_min_messages", "log_min_messages warning or more verbose", LOG,
         lambda v: v in _LEVELS and _LEVELS.index(v) <= _LEVELS.index("warning"), "<= warning"),
        ("log.log_min_error_statement", "log_min_error_statement error or more verbose", LOG,
         lambda v: v in _LEVELS and _LEVELS.index(v) <= _LEVELS.index("error"), "<= error"),
        ("log.log_file_mode", "log_file_mode 0600", LOG, lambda v: v == "0600", "0600"),
        ("log.log_hostname", "log_hostname off (no DNS lookup per connection)", LOG, _off,
         "off"),
        ("log.debug_print_parse", "debug_print_parse off", LOG, _off, "off"),
        ("log.debug_print_rewritten", "debug_print_rewritten off", LOG, _off, "off"),
        ("log.debug_print_plan", "debug_print_plan off", LOG, _off, "off"),
        ("log.log_error_verbosity", "log_error_verbosity default or verbose", LOG,
         lambda v: v in ("default", "verbose"), "default"),
    ]


def _set_rules(plan: Plan) -> list[Rule]:
    a, s = plan.security.audit, plan.security
    libs = set(plan.parameters.shared_preload_libraries)
    return [
        ("audit.pgaudit_preloaded", "pgaudit in shared_preload_libraries", AUDIT,
         lambda v: "pgaudit" in {x.strip() for x in v.split(",")}, "pgaudit"),
        ("audit.pgaudit_log", "pgaudit.log as the plan", AUDIT,
         lambda v: {x.strip() for x in v.split(",")} == set(a.pgaudit_log),
         ",".join(a.pgaudit_log)),
        ("set.shared_preload_libraries", "only the plan's preloaded libraries", SET,
         lambda v: {x.strip() for x in v.split(",") if x.strip()} <= libs, ",".join(sorted(libs))),
        ("set.password_encryption", "password_encryption scram-sha-256", SET,
         lambda v: v == s.password_encryption, s.password_encryption),
        ("set.fsync", "fsync on", SET, _on, "on"),
        ("set.full_page_writes", "full_page_writes on", SET, _on, "on"),
        ("set.allow_system_table_mods", "allow_system_table_mods off", SET, _off, "off"),
        ("set.data_checksums", "data checksums enabled", SET, _on, "on"),
        ("set.listen_addresses", "listen_addresses: no wildcard", SET,
         lambda v: "*" not in v and "0.0.0.0" not in v and v != "::", "explicit addresses"),
        ("set.track_counts", "track_counts on (autovacuum needs it)", SET, _on, "on"),
        ("set.unix_socket_permissions", "unix socket 0770 or tighter", SET,
         lambda v: (int(v, 8) & 0o007) == 0, "no world access"),
    ]


def _tls_rules(plan: Plan) -> list[Rule]:
    s = plan.security
    return [
        ("tls.ssl", "ssl on", TLS, _on, "on"),
        ("tls.min_protocol", "ssl_min_protocol_version at least the plan's", TLS,
         lambda v: v in ("TLSv1.2", "TLSv1.3") and v >= s.tls_min_version, s.tls_min_version),
        ("tls.ciphers", "ssl_ciphers: TLS 1.2 suites ECDHE with AES-GCM or ChaCha20 only "
         "(Mozilla intermediate)", TLS, lambda v: bool(tls.tls12_suites(v))
         and not tls.weak_tls12_suites(v), "no CBC, CCM, CAMELLIA, ARIA or DHE"),
        ("tls.ecdh_curve", "ssl_ecdh_curve one of the profile's curves", TLS,
         lambda v: v in tls.PROFILE_CURVES, tls.ECDH_CURVE),
        ("tls.prefer_server_ciphers", "ssl_prefer_server_ciphers on", TLS, _on, "on"),
    ]


def _repl_rules(plan: Plan) -> list[Rule]:
    return [
        ("repl.wal_level", "wal_level replica or logical", REPL,
         lambda v: v in ("replica", "logical"), "replica"),
        ("repl.archive_mode", "archive_mode on", REPL, lambda v: v in ("on", "always"), "on"),
        ("repl.synchronous_standby_names", "a synchronous standby named (zone pair)", REPL,
         lambda v: bool(v.strip()) or not plan.ha.synchronous_commit, "non-empty"),
    ]


NAMES = ["logging_collector", "log_connections", "log_disconnections", "log_checkpoints",
         "log_lock_waits", "log_temp_files", "log_line_prefix", "log_statement",
         "log_min_duration_statement", "log_min_messages", "log_min_error_statement",
         "log_file_mode", "log_hostname", "debug_print_parse", "debug_print_rewritten",
         "debug_print_plan", "log_error_verbosity", "shared_preload_libraries", "pgaudit.log",
         "shared_preload_libraries", "password_encryption", "fsync", "full_page_writes",
         "allow_system_table_mods",
         "data_checksums", "listen_addresses", "track_counts", "unix_socket_permissions",
         "ssl", "ssl_min_protocol_version", "ssl_ciphers", "ssl_ecdh_curve",
         "ssl_prefer_server_ciphers",
         "wal_level", "archive_mode", "synchronous_standby_names"]


def controls(plan: Plan, settings: dict[str, str], where: str) -> Iterator[dict[str, Any]]:
    """settings: name -> value in force on the primary (`where` names it)."""
    for (id, title, ref, test, required), name in zip(rules(plan), NAMES, strict=True):
        value = settings.get(name)
        ok = value is not None and test(value)
        shown = "absent" if value is None else repr(value)
        yield control(id, title, ref, ok, f"{name} = {shown} on {where} (required: {required})")
