"""Extract the `az postgres flexible-server` command definitions into a small JSON file.

billdb's document lint checks `az` commands offline against this file. It is made from
the Azure CLI's own command modules (the `azure-cli` package on PyPI), in a throwaway venv:

    /usr/bin/python3 -m venv /tmp/azcli && /tmp/azcli/bin/pip install azure-cli==2.91.0
    AZURE_CONFIG_DIR=$(mktemp -d) /tmp/azcli/bin/python scripts/az_command_data.py \
        > src/billdb/data/azure_cli_postgres.json

It loads the CLI's command table and argument registry the same way `az --help` does
(knack's loader, no network, no login) and keeps, per command, every option string with
the argument it sets (dest) and its choices when the CLI restricts them.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

from azure.cli.core import get_default_cli

PREFIX = "postgres flexible-server"


def main() -> None:
    cli = get_default_cli()
    cli.invocation = cli.invocation_cls(
        cli_ctx=cli, parser_cls=cli.parser_cls,
        commands_loader_cls=cli.commands_loader_cls, help_cls=cli.help_cls)
    cli.invocation.data = {"command_string": PREFIX}
    loader = cli.invocation.commands_loader
    table = loader.load_command_table(PREFIX.split())
    commands: dict[str, dict] = {}
    for name in sorted(n for n in table if n.startswith(PREFIX + " ")):
        loader.command_name = name
        cli.invocation.data["command_string"] = name
        loader.load_arguments(name)
        options: dict[str, dict] = {}
        for dest, arg in table[name].arguments.items():
            settings = arg.type.settings
            if settings.get("help") == "==SUPPRESS==":
                continue
            choices = settings.get("choices")
            for opt in settings.get("options_list") or []:
                opt = str(getattr(opt, "target", opt))
                if opt.startswith("-"):
                    options[opt] = {"dest": dest,
                                    "choices": sorted(map(str, choices)) if choices else None}
        commands[name] = {"options": dict(sorted(options.items()))}
    doc = {
        "source": f"azure-cli {version('azure-cli')} command modules (scripts/az_command_data.py)",
        "azure_cli_version": version("azure-cli"),
        "prefix": PREFIX,
        "global_options": ["--debug", "--help", "-h", "--only-show-errors", "--output", "-o",
                           "--query", "--subscription", "--verbose"],
        "commands": commands,
    }
    json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
