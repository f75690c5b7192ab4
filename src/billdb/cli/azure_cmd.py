"""`billdb --env prod azure …` and `billdb cost`: parse, call billdb.azure, print."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, Literal

import typer

from billdb.cli import output
from billdb.cli.common import JsonOpt, plan_path, selection
from billdb.errors import BilldbError
from billdb.plan.load import load_plan

azure_app = typer.Typer(help="The plan on Azure Database for PostgreSQL flexible server "
                        "(--env prod).", no_args_is_help=True)


def _prod() -> tuple[Any, Any]:
    s = selection()
    if s.env != "prod":
        raise BilldbError("azure commands act on the production target: use `billdb --env "
                          "prod azure …`")
    path = plan_path()
    return load_plan(path), path


@azure_app.command("plan")
def plan_cmd(as_json: JsonOpt = False) -> None:
    """The ordered ARM operations (method, resource id, api-version, body; secrets masked).
    With credentials it reads Azure first and lists only what differs; never writes."""
    from billdb.azure import apply

    doc = apply.plan_report(*_prod())
    if as_json:
        output.emit_json(doc)
        return
    con = output.console()
    con.print(f"target {doc['target']} ({doc['credentials']})")
    if doc.get("note"):
        con.print(doc["note"])
    for n, op in enumerate(doc["operations"], 1):
        what = f" [{op['action']}]" if "action" in op else ""
        rid = op["resource_id"].split("/providers/")[-1]
        con.print(f"{n:3} {op['method']:5} {op['kind']:17} {rid}{what}  "
                  f"api-version={op['api_version']}", highlight=False)
        if op.get("note"):
            con.print(f"      note: {op['note']}", highlight=False)
    con.print(f"{len(doc['operations'])} of {doc['total']} operations: "
              + ", ".join(f"{k} x{v}" for k, v in doc["counts"].items()), highlight=False)


@azure_app.command("apply")
def apply_cmd(
    yes: Annotated[bool, typer.Option("--yes", help="Apply without asking.")] = False,
    database: Annotated[bool, typer.Option("--database/--no-database", help="Also apply the "
                        "database-level part over TLS to the server's FQDN.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run the differing operations, waiting for each long-running one (journaled: a rerun
    after a kill continues); a second run reports 0 changes."""
    from billdb.azure import apply

    plan, path = _prod()
    if not yes and not typer.confirm("apply the plan to Azure?", default=False):
        raise typer.Exit(1)
    if not database:
        os.environ["BILLDB_AZURE_SQL"] = "off"
    doc = apply.apply(plan, path, progress=output.note)
    if not as_json:
        output.console().print(f"{doc['changes']} changes of {doc['operations']} operations")
    else:
        output.emit_json(doc)


def cost_cmd(
    as_json: JsonOpt = False,
    refresh: bool = typer.Option(False, "--refresh", help="Read Microsoft's Retail Prices "
                                 "API for the plan's meters and cache the answer, dated."),
    require_fresh: bool = typer.Option(False, "--require-fresh", help="Exit 1 when a price "
                                       "could not be fetched (with --refresh)."),
) -> None:
    """The monthly estimate, one row per meter with its source and date, beside §11.1."""
    from billdb import cost, cost_refresh

    plan = load_plan(plan_path())
    fresh, line = True, ""
    if refresh:
        fresh, line = cost_refresh.refresh(list(cost.meters(plan).values()))
        print(line, file=sys.stderr, flush=True)  # one line, never wrapped
    doc = cost.estimate(plan, cost_refresh.load_cache())
    doc["refresh"] = {"asked": refresh, "fresh": fresh, "note": line} if refresh else None
    if as_json:
        output.emit_json(doc)
    else:
        _print_cost(doc)
    if require_fresh and not fresh:
        raise typer.Exit(1)


def _print_cost(doc: dict) -> None:
    rows = [c | {"billdb": f"{c['monthly']:.2f}", "plan": "" if c["plan_monthly"] is None
                 else f"{c['plan_monthly']:.2f}"} for c in doc["components"]]
    rows.append({"component": "total", "billdb": f"{doc['total_monthly']:.2f}",
                 "plan": f"{doc['plan']['total_monthly']:.2f}",
                 "basis": f"reserved 1y: {doc['total_reserved_monthly']:.2f} (plan "
                          f"{doc['plan']['total_reserved_monthly']:.2f})"})
    cur = doc["currency"]
    output.print_table(f"monthly estimate ({cur})", ("component", "billdb", "plan", "basis"),
                       rows, ("component", f"billdb {cur}/month", f"plan {cur}/month",
                              "basis"))
    con = output.console()
    for gap in doc["plan_leaves_out"]:
        con.print(f"the plan leaves out: {gap}", highlight=False, soft_wrap=True)
    seen = {}
    for c in doc["components"]:
        for m in c["meters"]:
            seen[m["key"]] = m
    for m in seen.values():
        con.print(f"meter {m['region']:13} {m['product']} / {m['meter']}: {m['price']} per "
                  f"{m['unit']} ({m['source']}, {m['as_of']})", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(azure_app, name="azure")
    app.command("cost")(cost_cmd)


@azure_app.command("verify")
def verify_cmd(as_json: JsonOpt = False) -> None:
    """Read everything back and compare it with the plan; exit 1 when a check fails."""
    from billdb.azure import verify

    report = verify.verify(*_prod())
    output.checks(report, as_json)
    output.exit_status(report["ok"])


@azure_app.command("dump")
def dump_cmd(
    upload: Annotated[bool, typer.Option("--upload/--no-upload", help="Upload the dump and "
                                         "its manifest to the plan's blob container.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """§9.1: pg_dump of the service database on Azure as the backup role (billdb's dump path),
    then uploaded through the blob private endpoint; the runner is `export --format cronjob`."""
    from billdb.azure import apply, dumps

    plan, path = _prod()
    t, _ops = apply.load(plan, path)
    output.report(dumps.dump(t, upload), as_json)


@azure_app.command("failover")
def failover_cmd(as_json: JsonOpt = False) -> None:
    """Planned HA failover: a restart with failover to the standby zone."""
    from billdb.azure import dr

    output.conclude(dr.failover(*_prod()), as_json)


@azure_app.command("promote-replica")
def promote_cmd(
    forced: Annotated[bool, typer.Option("--forced/--planned", help="Forced: do not wait "
                                         "for the replica to catch up.")] = False,
    switchover: Annotated[bool, typer.Option("--switchover", help="Swap roles with the "
                                             "primary instead of a standalone server.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """§9.2 region failure: promote the Korea South replica; reports what Azure drops."""
    from billdb.azure import dr

    output.conclude(dr.promote(*_prod(), forced, switchover), as_json)


@azure_app.command("rotate-admin")
def rotate_admin_cmd(as_json: JsonOpt = False) -> None:
    """A new password for the server's administrator: generated and kept (0600) first, sent
    with a PATCH of properties.administratorLoginPassword, waited for (long-running), then
    stored where billdb reads it. Journaled: a killed run is finished by running it again.
    The password is never printed."""
    from billdb.azure import admin_rotate

    output.conclude(admin_rotate.rotate(*_prod(), progress=output.note).as_dict(), as_json)


@azure_app.command("export")
def export_cmd(
    fmt: Annotated[Literal["arm", "az", "cronjob"], typer.Option(
        "--format", help="arm (template), az (script) or "
                                     "cronjob (the dump runner for AKS).")],
) -> None:
    """The plan's resources as an ARM template, a checked `az` script, or the §9.1 dump
    runner as a Kubernetes CronJob (JSON, which kubectl applies as YAML's superset)."""
    from billdb.azure import apply, dumps, export

    plan, path = _prod()
    t, ops = apply.load(plan, path)
    if fmt == "arm":
        output.emit_json(export.arm_template(ops))
    elif fmt == "cronjob":
        output.emit_json(dumps.cronjob(t))
    elif fmt == "az":
        script = export.az_script(t, ops)
        errors = [f for f in export.check_script(script, t) if f.severity == "error"]
        if errors:  # never hand out a script billdb's own check refuses
            raise BilldbError("; ".join(f"{f.id}: {f.message}" for f in errors))
        typer.echo(script, nl=False)
    else:
        raise BilldbError(f"--format must be arm, az or cronjob, not {fmt!r}")


@azure_app.command("check-script")
def check_script_cmd(
    script: Annotated[typer.FileText, typer.Argument(help="An az script (bash).")],
    as_json: JsonOpt = False,
) -> None:
    """Check an az script offline against the Azure CLI's definitions and the plan."""
    from billdb.azure import apply, export
    from billdb.lint.findings import report

    plan, path = _prod()
    t, _ops = apply.load(plan, path)
    doc = report(script.name, export.check_script(script.read(), t))
    if as_json:
        output.emit_json(doc)
    else:
        for f in doc["findings"]:
            output.console().print(f"{f['severity']:7} {f['id']:28} line {f['line'] or '-'}: "
                                   f"{f['message']}", highlight=False)
    output.exit_status(doc["ok"])
