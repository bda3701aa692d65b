"""Issue 9, item 7: escape sequences in keys, labels, task types and errors from a
spec are shown escaped by ``mc ls``, ``mc show`` and ``mc run``, never sent raw to
the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc.cli import main
from mc.cli.terminal import printable

SPECS = Path(__file__).parent / "specs"
RAW = ("\x1b", "\x07", "\u202e")


def _assert_escaped(text: str) -> None:
    for character in RAW:
        assert character not in text
    assert "\\x1b" in text


def test_ls_and_show_escape_keys_labels_and_task_types(db_url, capsys):
    assert main(["submit", str(SPECS / "spec_terminal_escapes.json"), "--db", db_url]) == 0
    key = capsys.readouterr().out.strip()
    assert key == "k\\x1b[2J\\x1b]0;pwned\\x07"  # the key printed by submit is escaped too
    assert main(["ls", "--db", db_url]) == 0
    listing = capsys.readouterr().out
    _assert_escaped(listing)
    assert "\\x1b[31mred\\u202eevil" in listing
    assert main(["show", "k\x1b[2J\x1b]0;pwned\x07", "--db", db_url]) == 0
    shown = capsys.readouterr().out
    _assert_escaped(shown)
    assert "print\\x1b[1A" in shown


def test_run_escapes_the_summary_and_the_errors(capsys):
    assert main(["run", str(SPECS / "spec_terminal_escape_in_error.json")]) == 1
    captured = capsys.readouterr()
    _assert_escaped(captured.out + captured.err)


def test_show_escapes_task_errors_but_keeps_their_lines(db_url, capsys):
    assert main(["submit", str(SPECS / "spec_terminal_escape_in_error.json"), "--db", db_url]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["runner", "--until-done", "--interval", "0", "--db", db_url]) == 0
    capsys.readouterr()
    assert main(["show", key, "--db", db_url]) == 0
    shown = capsys.readouterr().out
    _assert_escaped(shown)
    assert "does not resolve at" in shown  # the task's error, in the tree


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("\x9b31m", "\\x9b31m"),
        ("x\u2066y", "x\\u2066y"),
        ("lone\ud800", "lone\\ud800"),
        ("two\nlines", "two\\nlines"),
    ],
)
def test_printable_shows_control_characters_as_escapes(text, shown):
    assert printable(text) == shown


def test_printable_keeps_newlines_when_asked():
    assert printable("one\n\x1b[Atwo", keep_newlines=True) == "one\n\\x1b[Atwo"
