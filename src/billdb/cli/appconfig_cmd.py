"""`billdb app-config`: the service's datasource settings from the plan. Parse, render, print;
the model and the formats live in `billdb.appconfig`."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from billdb.cli.common import ArgumentError, plan_path, selection
from billdb.context import load_context

FormatOpt = Annotated[Literal["spring", "jdbc-json", "env", "client-json"], typer.Option(
    "--format", help="spring (application-<env>.yml), jdbc-json, env (libpq variables) or "
    "client-json (the Python client's connection profile).")]
PoolerOpt = Annotated[bool, typer.Option(
    "--through-pooler", help="Connect through PgBouncer (the production path).")]
AppEnvOpt = Annotated[Literal["local", "prod"] | None, typer.Option(
    "--env", help="Environment: local or prod (default: the root --env).", show_default=False)]


def app_config(fmt: FormatOpt = "spring", through_pooler: PoolerOpt = False,
               env: AppEnvOpt = None) -> None:
    """Print the service's datasource settings (seed §7.2, §5.2); passwords only as ${...}."""
    from billdb import appconfig
    from billdb.appconfig import spring

    if fmt not in appconfig.FORMATS:
        raise ArgumentError(f"--format must be one of {', '.join(appconfig.FORMATS)}, "
                            f"not {fmt!r}")
    sel = selection()
    env_name = env or sel.env
    try:
        s = appconfig.settings(load_context(plan_path(), env_name), env_name, through_pooler)
    except ValueError as exc:
        raise ArgumentError(str(exc)) from None
    if fmt == "spring":
        text = spring.spring(s)
    elif fmt == "jdbc-json":
        text = json.dumps(appconfig.jdbc_json(s), indent=2) + "\n"
    elif fmt == "client-json":
        text = json.dumps(appconfig.client_profile(s), indent=2) + "\n"
    else:
        text = appconfig.libpq_env(s)
    typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    app.command("app-config")(app_config)
