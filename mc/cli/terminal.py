"""Showing untrusted text on a terminal.

Keys, labels, task types and errors come from specs and stored flows, so
they may hold escape sequences that would move the cursor, recolour, retitle
or clear the operator's terminal, and bidirectional-override characters that
make text read differently from what it is. The ``mc`` commands pass every
such string through :func:`escape_text` (one line: a table cell) or
:func:`escape_lines` (a block such as a traceback) before printing it.
"""

from __future__ import annotations

# C0 controls, DEL, C1 controls, and the Unicode bidirectional controls.
_CONTROL_POINTS = [
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]


def _escape(point: int) -> str:
    if point <= 0xFF:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}"


_ONE_LINE = {point: _escape(point) for point in _CONTROL_POINTS}
_MANY_LINES = {point: text for point, text in _ONE_LINE.items() if point not in (0x0A, 0x09)}


def escape_text(text: object) -> str:
    """Return ``text`` for one line of a terminal: control characters as ``\\xNN``.

    Lone surrogates (which a terminal's encoder refuses) become ``\\udNNN``
    too, so printing the result never raises.
    """
    shown = str(text).translate(_ONE_LINE)
    return shown if shown.isascii() else _surrogates_escaped(shown)


def escape_lines(text: object) -> str:
    """Like :func:`escape_text`, but keeps newlines and tabs: for multi-line blocks."""
    shown = str(text).translate(_MANY_LINES)
    return shown if shown.isascii() else _surrogates_escaped(shown)


def _surrogates_escaped(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
