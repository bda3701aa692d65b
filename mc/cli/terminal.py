"""Untrusted text made safe for a terminal.

Labels, keys, errors and paths come from specs and stored flows, which
anyone may have written. Printed raw, a control character could move the
cursor, rewrite earlier lines, retitle the window or hide text (escape
sequences, carriage returns, bidirectional overrides). :func:`printable`
shows such characters as Python-style escapes instead.
"""

from __future__ import annotations

import unicodedata


def printable(text: object, keep_newlines: bool = False) -> str:
    """Return ``str(text)`` with every control or format character escaped.

    C0 and C1 controls, DEL, and Unicode format characters (such as the
    bidirectional overrides) become ``\\xNN``, ``\\uNNNN`` escapes; a tab
    becomes ``\\t`` and, unless ``keep_newlines``, a newline ``\\n``. A
    backslash stays as it is: the result is for people to read, not to
    parse back.
    """
    out = []
    for char in str(text):
        if char == "\n" and keep_newlines:
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
