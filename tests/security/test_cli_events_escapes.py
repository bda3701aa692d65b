"""``--events FILE`` lines carry no raw control characters.

An events file is read with ``tail -f``; the labels, keys and errors in it
come from specs. JSON escapes C0 controls itself, but with readable text
(``ensure_ascii=False``) it would leave C1 controls, bidirectional overrides
and line separators raw: they are written as ``\\uXXXX`` escapes, and each
line still reads back as the same event.
"""

from __future__ import annotations

import json

from mc.cli import main
from tests.security.conftest import SPECS_DIR

RAW = ("\x9b", "\u202e", "\u2028")


def test_events_file_lines_escape_control_characters(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    spec = SPECS_DIR / "spec_events_with_controls.json"
    assert main(["run", str(spec), "--progress", "none", "--events", str(events)]) == 1
    capsys.readouterr()
    text = events.read_text(encoding="utf-8")
    for character in RAW:
        assert character not in text
    lines = text.splitlines()
    assert all(line.isprintable() for line in lines)
    parsed = [json.loads(line) for line in lines]
    assert {event["flow_label"] for event in parsed} == {json.loads(spec.read_text())["label"]}
    assert any("does not resolve" in event.get("error", "") for event in parsed)
