"""``mc config show``: print the operator's resolved configuration, secrets redacted.

Shows which config file was found (see :mod:`mc.jobs.profiles` for where
it is looked for) and its executor profiles, checked, as TOML (or JSON with
``--json``). A password in a URL (a Dask scheduler address) is shown as
``***``. Exit codes: 0 shown; 2 a config file that cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from mc.cli.terminal import printable
from mc.errors import MCError

__all__ = ["add_config_command", "format_config_toml"]


def add_config_command(commands: Any) -> None:
    """Add ``config show`` to ``commands`` (what ``ArgumentParser.add_subparsers`` returned)."""
    config = commands.add_parser("config", help="show the operator's configuration (mc.toml)")
    actions = config.add_subparsers(metavar="ACTION")
    show = actions.add_parser("show", help="print the resolved configuration, secrets redacted")
    show.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="the config file (default: ./mc.toml, else $MC_CONFIG, else the user's config dir)",
    )
    show.add_argument("--json", action="store_true", help="print it as JSON")
    show.set_defaults(command=_show)
    config.set_defaults(command=lambda args: _usage(config))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_BAD_INPUT


def _show(args: argparse.Namespace) -> int:
    from mc.jobs.profiles import load_config

    try:
        config = load_config(args.config)
    except MCError as error:
        print(f"mc config show: {printable(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    shown = config.to_dict()
    if args.json:
        print(printable(json.dumps(shown, indent=2), keep_newlines=True))
        return EXIT_OK
    print(printable(format_config_toml(shown), keep_newlines=True))
    return EXIT_OK


def format_config_toml(shown: dict[str, Any]) -> str:
    """Return :meth:`~mc.jobs.profiles.McConfig.to_dict`'s data as TOML text."""
    if shown["config_file"] is None:
        lines = ["# no config file found: no executor profiles (only the built-in executors)"]
    else:
        lines = [f"# config file: {shown['config_file']}"]
    for name, settings in shown["executors"].items():
        lines += ["", f"[executors.{name}]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines)
