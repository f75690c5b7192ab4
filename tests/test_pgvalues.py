"""Plan values against pg_settings, with Patroni's units (no server)."""

from __future__ import annotations

import pytest

from billdb.plan.types import size_bytes
from billdb.state.pgvalues import display, matches

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("name", "plan", "setting", "unit", "vartype", "ok"), [
    ("shared_buffers", "256MB", "32768", "8kB", "integer", True),
    ("shared_buffers", "128MB", "32768", "8kB", "integer", False),
    ("work_mem", "16MB", "16384", "kB", "integer", True),
    ("log_min_duration_statement", "1000", "1000", "ms", "integer", True),  # bare: its unit
    ("log_min_duration_statement", "1s", "1000", "ms", "integer", True),
    ("archive_timeout", "10s", "10", "s", "integer", True),
    ("checkpoint_completion_target", "0.9", "0.9", None, "real", True),
    ("log_connections", "true", "on", None, "bool", True),
    ("log_connections", "off", "on", None, "bool", False),
    ("ssl_min_protocol_version", "TLSv1.2", "TLSv1.2", None, "enum", True),
    ("shared_preload_libraries", "pg_stat_statements,pgaudit", "pg_stat_statements, pgaudit",
     None, "string", True),
    ("shared_preload_libraries", "pgaudit", "pg_stat_statements, pgaudit", None, "string",
     False),
    ("log_line_prefix", "%t [%p]: ", "%t [%p]: ", None, "string", True),
])
def test_matches(name, plan, setting, unit, vartype, ok):
    assert matches(name, plan, setting, unit, vartype) is ok


def test_display_and_sizes():
    assert display("32768", "8kB") == "256MB"
    assert display("1000", "ms") == "1s"
    assert display("60", "s") == "1min"
    assert display("on", None) == "on"
    assert size_bytes("64MB") == 64 * 1024**2
    with pytest.raises(ValueError, match="not a size"):
        size_bytes("64 apples")


@pytest.mark.unit
def test_a_settings_row_is_typed_as_the_plan_types_it():
    from billdb.state.pgvalues import SettingRow

    assert SettingRow("max_connections", "200", None, "integer", "postmaster").value == 200
    assert SettingRow("ssl", "on", None, "bool", "sighup").value is True
    assert SettingRow("checkpoint_completion_target", "0.9", None, "real").value == 0.9
    assert SettingRow("shared_buffers", "32768", "8kB", "integer").value == "256MB"
    assert SettingRow("wal_level", "replica", None, "enum").value == "replica"
    assert SettingRow("max_connections", "200", None, "integer", "postmaster").needs_restart
    assert not SettingRow("work_mem", "4096", "kB", "integer", "user").needs_restart
