"""Untrusted text made safe for a terminal: one rule, used by every ``mc`` command.

Keys, labels, task types, errors, paths and task output come from specs and
stored flows, which anyone may have written. Printed raw, a control
character could move the cursor, recolour, retitle or clear the operator's
terminal, rewrite earlier lines, or hide text (escape sequences, carriage
returns, bidirectional overrides). :func:`printable` shows such characters
as Python-style escapes instead, and lone surrogates (which a terminal's
encoder refuses) too, so printing its result never raises.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["columns", "printable"]

# Controls (C0, DEL, C1), format characters (the bidirectional overrides),
# line and paragraph separators, and lone surrogates.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def printable(text: object, keep_newlines: bool = False) -> str:
    """Return ``str(text)`` with every control or format character escaped.

    Such characters become ``\\xNN`` or ``\\uNNNN`` escapes (a newline
    ``\\n`` and a tab ``\\t``), unless ``keep_newlines``, which keeps
    newlines and tabs: for multi-line blocks such as a traceback. A
    backslash stays as it is: the result is for people to read, not to
    parse back.
    """
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for char in text:
        if keep_newlines and char in "\n\t":
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in _ESCAPED_CATEGORIES:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Return ``rows`` (a header first) as text columns two spaces apart.

    The cells must already be :func:`printable`: this only lines them up.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
