"""Argument types shared by the ``mc`` commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def number_type(convert: Callable[[str], Any], minimum: float, inclusive: bool) -> Callable[[str], Any]:
    """Return an argparse type: ``convert`` the text, and refuse values below ``minimum``.

    With ``inclusive`` false, ``minimum`` itself is refused too; NaN always is.
    """
    kind = "a whole number" if convert is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if value < minimum or (not inclusive and value == minimum) or value != value:
            relation = "at least" if inclusive else "more than"
            raise argparse.ArgumentTypeError(f"expected {relation} {minimum:g}, got {text}")
        return value

    return parse


positive_int = number_type(int, 1, inclusive=True)
positive_float = number_type(float, 0, inclusive=False)
non_negative_float = number_type(float, 0, inclusive=True)


def add_max_flow_mb(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-flow-mb``: the size budget of each flow (see mc.flows.size_budget)."""
    parser.add_argument(
        "--max-flow-mb", type=positive_float, default=64.0, metavar="MB",
        help="a task that would grow its flow's JSON past this many MiB fails (default 64)",
    )


def max_flow_bytes(args: argparse.Namespace) -> int:
    """The size budget in bytes that ``--max-flow-mb`` asked for."""
    return max(1, int(args.max_flow_mb * 1024 * 1024))
