"""`az` commands in a document, checked against the Azure CLI's own command definitions.

The definitions are billdb/data/azure_cli_postgres.json, extracted offline from the
`azure-cli` package's command modules by scripts/az_command_data.py (see its docstring).
Only `az postgres flexible-server ...` was extracted; other `az` commands are reported as
not checked rather than guessed at.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources

from billdb.lint import azure_platform
from billdb.lint.catalog import Catalog
from billdb.lint.findings import Finding
from billdb.lint.shell import Command, option_value

# What to do instead, for things the definitions say do not exist (knowledge, not data).
_INSTEAD = {
    "vnet-rule": "private access (VNet integration) is chosen when the server is created: "
                 "`az postgres flexible-server create --vnet VNET --subnet SUBNET "
                 "--private-dns-zone ZONE`; it cannot be added to an existing server",
    "--high-availability": "request HA with `--zonal-resiliency Enabled` (and "
                           "`--standby-zone N`)",
}


@cache
def definitions() -> dict:
    text = resources.files("billdb.data").joinpath("azure_cli_postgres.json").read_text("utf-8")
    return json.loads(text)


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(command words after `az`, the rest from the first option on)."""
    words = []
    for i, w in enumerate(argv[1:], 1):
        if w.startswith("-"):
            return words, argv[i:]
        words.append(w)
    return words, []


def check(cmd: Command, section: str, catalog: Catalog | None) -> list[Finding]:
    defs = definitions()
    prefix, commands = defs["prefix"], defs["commands"]
    words, rest = _split(cmd.argv)
    name = " ".join(words)
    cli = f"azure-cli {defs['azure_cli_version']}"
    if not (name + " ").startswith(prefix + " "):
        return [Finding("doc.az_unchecked", "info", section,
                        f"`az {name}` is outside the extracted definitions ({prefix})",
                        "check it by hand with `az ... --help`", cmd.line, "data")]
    if name not in commands:
        group = [c for c in commands if c.startswith(" ".join(words[:-1]) + " ")]
        word = next((w for w in words[2:] if w in _INSTEAD), None)
        close = difflib.get_close_matches(name, group or list(commands), n=2)
        fix = _INSTEAD[word] if word else (
            f"did you mean {' or '.join('`az ' + c + '`' for c in close)}?" if close else
            f"see `az {prefix} --help`")
        return [Finding("doc.az_unknown_command", "error", section,
                        f"`az {name}` does not exist in {cli}", fix, cmd.line, "data")]
    options = commands[name]["options"]
    allowed = set(options) | set(defs["global_options"])
    out: list[Finding] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if not word.startswith("-") or word in ("-", "--"):
            i += 1
            continue
        opt, _, inline = word.partition("=")
        value = inline or (rest[i + 1] if i + 1 < len(rest) and not rest[i + 1].startswith("-")
                           else None)
        if opt not in allowed:
            fix = _INSTEAD.get(opt) or _suggest(opt, options)
            out.append(Finding("doc.az_unknown_option", "error", section,
                               f"`az {name}` has no option {opt} in {cli}", fix, cmd.line,
                               "data"))
        elif (choices := (options.get(opt) or {}).get("choices")) and value \
                and "$" not in value and value.lower() not in {c.lower() for c in choices}:
            out.append(Finding("doc.az_bad_value", "error", section,
                               f"`az {name} {opt} {value}`: allowed values are "
                               f"{', '.join(choices)}", f"use one of {', '.join(choices)}",
                               cmd.line, "data"))
        i += 1 if inline or value is None else 2
    if name == f"{prefix} parameter set" and catalog is not None:
        out += _parameter_name(cmd, section, catalog, commands)
    return out


def _suggest(opt: str, options: dict) -> str:
    """The option that sets the same argument (`--database-name` -> `--name` when its dest
    is database_name), else the closest spelling, else the list."""
    dest = opt.lstrip("-").replace("-", "_")
    same = sorted(o for o, d in options.items() if o.startswith("--") and d["dest"] == dest)
    if same:
        return f"use {same[0]} (it sets {dest} in this version)"
    longs = sorted(o for o in options if o.startswith("--"))
    close = difflib.get_close_matches(opt, longs, n=1)
    return f"did you mean {close[0]}?" if close else f"its options are {', '.join(longs)}"


def _parameter_name(cmd: Command, section: str, catalog: Catalog,
                    commands: dict) -> list[Finding]:
    param = option_value(cmd.argv, "--name", "-n")
    if not param or "$" in param or azure_platform.is_server_parameter(
            param, catalog.known_parameter(param)):
        return []
    stem = param.replace("_", "-")
    server_opts = [(c, o) for c in (f"{definitions()['prefix']} update",
                                    f"{definitions()['prefix']} create")
                   for o in commands.get(c, {}).get("options", {})
                   if o.startswith("--") and len(o) > 4 and stem.startswith(o[2:])]
    if server_opts:
        opt = server_opts[0][1]
        fix = (f"it is a property of the server: `az postgres flexible-server update {opt} "
               f"VALUE` (or {opt} on create)")
    else:
        hint = catalog.suggest_parameter(param)
        fix = f"did you mean {hint!r}?" if hint else "remove the command"
    return [Finding("doc.az_not_a_parameter", "error", section,
                    f"`parameter set --name {param}`: {param!r} is not a server parameter "
                    f"(PostgreSQL {catalog.major} has no such setting and it is not one of "
                    "Azure's own)", fix, cmd.line, "executed")]
