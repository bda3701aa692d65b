"""``mc upgrade-spec FILE``: rewrite a MissionControl 0.x flow spec in today's spelling.

The rewritten spec goes to standard output, or to ``-o FILE``, or back into
FILE with ``--in-place``, as JSON or YAML after the file's suffix (YAML
comments are not kept). On standard output, characters outside ASCII are
written as JSON or YAML escapes, so that nothing in a spec can act on a
terminal. What was changed is listed on standard error, one
line each. When some part cannot be converted automatically, each such
part is listed with how to rewrite it by hand, nothing is written, and the
exit code is 2. See :mod:`mc.flows.upgrade` for the rules.

Exit codes: 0 converted (or nothing to convert); 2 bad input (an
unreadable file, a part that cannot be converted, a file that cannot be
written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from mc.cli.spec_files import load_flow_spec_file
from mc.cli.terminal import printable
from mc.errors import FlowSpecError
from mc.flows.upgrade import upgrade_flow_spec

__all__ = ["add_upgrade_command"]


def add_upgrade_command(commands: Any) -> None:
    """Add ``mc upgrade-spec`` to the ``mc`` command's subparsers."""
    upgrade = commands.add_parser(
        "upgrade-spec",
        help="rewrite a MissionControl 0.x flow spec in today's spelling",
        description=(
            "Rewrite a MissionControl 0.x flow spec in today's spelling. The new spec goes "
            "to standard output (or -o FILE, or --in-place); the changes are listed on "
            "standard error. Exits 2, writing nothing, if a part cannot be converted."
        ),
    )
    upgrade.add_argument("file", help="a flow spec, as .json, .yaml or .yml")
    where = upgrade.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="FILE", help="write the new spec to FILE")
    where.add_argument("--in-place", action="store_true", help="rewrite FILE itself")
    upgrade.set_defaults(command=_upgrade_command)


def _upgrade_command(args: argparse.Namespace) -> int:
    """Run ``mc upgrade-spec`` (see the module docstring)."""
    name = printable(args.file)
    try:
        spec = load_flow_spec_file(args.file)
    except FlowSpecError as error:
        print(f"mc upgrade-spec: {printable(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = upgrade_flow_spec(spec)
    if not result.ok:
        print(
            f"mc upgrade-spec: {name}: {len(result.problems)} part(s) cannot be converted "
            "automatically; nothing was written:",
            file=sys.stderr,
        )
        for problem in result.problems:
            print(f"  {printable(problem)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = args.file if args.in_place else args.output
    # On standard output, every character outside ASCII is written escaped,
    # so nothing in the spec can act on a terminal; files keep their text.
    text = _format_spec(result.spec, Path(target or args.file).suffix, ascii_only=target is None)
    if target is None:
        sys.stdout.write(text)
    else:
        try:
            _write_atomically(Path(target), text)
        except OSError as error:
            print(
                f"mc upgrade-spec: cannot write {printable(target)}: "
                f"{printable(error.strerror or error)}",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
    for change in result.changes:
        print(f"changed: {printable(change)}", file=sys.stderr)
    if not result.changes:
        print(f"mc upgrade-spec: {name}: nothing to change", file=sys.stderr)
    return EXIT_OK


def _format_spec(spec: Any, suffix: str, ascii_only: bool = False) -> str:
    """Return a spec as JSON text (for a ``.json`` suffix) or YAML text (otherwise).

    With ``ascii_only``, characters outside ASCII (control characters
    included) are written as escapes, which both formats read back as the
    same text.
    """
    if suffix.lower() == ".json":
        return json.dumps(spec, indent=2, ensure_ascii=ascii_only) + "\n"
    import yaml  # the CLI's dependency; mc.flows stays standard-library only

    text: str = yaml.safe_dump(spec, sort_keys=False, allow_unicode=not ascii_only)
    return text


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a failure leaves it whole."""
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
