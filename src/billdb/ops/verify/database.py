"""Database, extensions, parameters and data checksums (§4.1, §5.1, §10.3)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from billdb import sql as sqlfiles
from billdb.context import Context
from billdb.ops import cluster
from billdb.ops.pgvalues import display, matches
from billdb.ops.verify.check import Check, equal
from billdb.render.parameters import cluster_settings
from billdb.render.pgbackrest import member_parameters

S_DB = "§4.1 database"


def checks(ctx: Context) -> Iterator[Check]:
    plan = ctx.plan
    d = plan.database
    with cluster.admin_connect(ctx) as conn:
        row = conn.execute(sqlfiles.load("verify/database"), {"dbname": d.name}).fetchone()
        yield Check("db.exists", S_DB, d.name, row[0] if row else None, row is not None)
        if row:
            _, encoding, collate, ctype, owner, tz = row
            yield equal("db.encoding", S_DB, d.encoding, encoding)
            yield equal("db.lc_collate", S_DB, d.lc_collate, collate)
            yield equal("db.lc_ctype", S_DB, d.lc_ctype, ctype)
            yield equal("db.timezone", S_DB, d.timezone, tz)
            yield equal("db.owner", "§6.1 schema owner", plan.roles.owner, owner)
        checksums = conn.execute("SHOW data_checksums").fetchone()[0]
        yield equal("db.data_checksums", "§10.2 data integrity", "on", checksums)
    if row:
        with cluster.admin_connect(ctx, dbname=d.name) as conn:
            have = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        for ext in d.extensions:
            yield Check(f"extension.{ext}", S_DB, "installed",
                        "installed" if ext in have else "missing", ext in have)
    yield from parameter_checks(ctx)


def parameter_checks(ctx: Context) -> Iterator[Check]:
    """Each managed parameter on the primary; every other member as one check each."""
    settings = cluster_settings(ctx.plan, ctx.env_name)
    names = [s.name for s in settings]
    lead = cluster.leader(ctx)
    for member in [lead, *[m for m in ctx.members if m.name != lead.name]]:
        try:
            with cluster.admin_connect(ctx, member) as conn:
                rows = conn.execute(sqlfiles.load("verify/parameters"), {"names": names}).fetchall()
        except Exception as exc:
            yield Check(f"param.{member.name}", "§5.1 parameters", "reachable", str(exc), False)
            continue
        found = {r[0]: r for r in rows}
        wrong = []
        local = member_parameters(ctx.plan, ctx.layout, member.name)  # e.g. archive_command
        for s in settings:
            if s.name in local:
                s = dataclasses.replace(s, value=local[s.name])
            row = found.get(s.name)
            if row is None:
                actual, ok = "unknown parameter", False
            else:
                _, setting, unit, vartype, _, pending = row
                actual = display(setting, unit)
                ok = matches(s.name, s.value, setting, unit, vartype) and not pending
                if pending:
                    actual += " (pending restart)"
            if member.name == lead.name:
                yield Check(f"param.{s.name}", s.section, s.value, actual, ok)
            elif not ok:
                wrong.append(f"{s.name}={actual}")
        if member.name != lead.name:
            yield Check(f"param.{member.name}.all", "§5.1 parameters",
                        "same as the plan", ", ".join(wrong) or "same as the plan", not wrong)
