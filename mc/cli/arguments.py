"""Argument types shared by the ``mc`` commands."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any


def number_type(
    convert: Callable[[str], Any], minimum: float, inclusive: bool
) -> Callable[[str], Any]:
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


# Units a duration may carry; a bare number is seconds.
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)")


def parse_duration(text: str) -> float:
    """Return the seconds in a duration such as ``30s``, ``5m``, ``2h``, ``1d`` or ``1h30m``.

    A bare number is seconds (``1.5``). Parts add up, each with its own unit,
    largest first or not. Raises ValueError saying what was expected.
    """
    cleaned = text.strip().lower()
    position, total, parts = 0, 0.0, 0
    while position < len(cleaned):
        match = _DURATION_PART.match(cleaned, position)
        if match is None or (parts and not match.group(2)):
            raise ValueError(
                f"expected a duration such as 30s, 5m, 2h, 1d or 1h30m "
                f"(a bare number is seconds), got {text!r}"
            )
        total += float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]
        position = match.end()
        parts += 1
        if not match.group(2) and position < len(cleaned):
            # '1 5m' or '15x': a bare number must stand alone
            raise ValueError(
                f"expected a duration such as 30s, 5m, 2h, 1d or 1h30m "
                f"(a bare number is seconds), got {text!r}"
            )
    if not parts:
        raise ValueError(f"expected a duration such as 30s, 5m, 2h or 1d, got {text!r}")
    return total


def duration_type(minimum: float = 0.0, inclusive: bool = True) -> Callable[[str], float]:
    """Return an argparse type for durations (see :func:`parse_duration`), in seconds.

    Values below ``minimum`` are refused; with ``inclusive`` false,
    ``minimum`` itself is too.
    """

    def parse(text: str) -> float:
        try:
            seconds = parse_duration(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        if seconds < minimum or (not inclusive and seconds == minimum):
            relation = "at least" if inclusive else "more than"
            raise argparse.ArgumentTypeError(
                f"expected a duration of {relation} {minimum:g}s, got {text}"
            )
        return seconds

    return parse


positive_duration = duration_type(0.0, inclusive=False)
non_negative_duration = duration_type(0.0, inclusive=True)


def add_max_flow_mb(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-flow-mb``: the size budget of each flow (see mc.flows.size_budget)."""
    parser.add_argument(
        "--max-flow-mb",
        type=positive_float,
        default=64.0,
        metavar="MB",
        help="a task that would grow its flow's JSON past this many MiB fails (default 64)",
    )


def max_flow_bytes(args: argparse.Namespace) -> int:
    """The size budget in bytes that ``--max-flow-mb`` asked for."""
    return max(1, int(args.max_flow_mb * 1024 * 1024))
