"""Untrusted text on a terminal (mc.cli.terminal) and the tree view's formats."""

from __future__ import annotations

import pytest

from mc.cli.terminal import printable
from mc.cli.tree_view import format_duration


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain key_1", "plain key_1"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\rb", "a\\x0db"),
        ("tab\there", "tab\\there"),
        ("two\nlines", "two\\nlines"),
        ("\x9b31m", "\\x9b31m"),
        ("abc\u202eevil", "abc\\u202eevil"),
        ("del\x7f", "del\\x7f"),
        ("é 漢字", "é 漢字"),
    ],
)
def test_printable_escapes_control_and_format_characters(text, shown):
    assert printable(text) == shown


def test_printable_can_keep_newlines():
    assert printable("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"


@pytest.mark.parametrize(
    "seconds, shown",
    [(0.5, "0.50s"), (42.9, "42s"), (185, "3m05s"), (7380, "2h03m"), (93600, "1d02h")],
)
def test_durations_read_at_a_glance(seconds, shown):
    assert format_duration(seconds) == shown
