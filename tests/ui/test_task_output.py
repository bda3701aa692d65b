"""Pages of output files: tails, earlier pages, whole lines, cleaned text."""

from __future__ import annotations

from mc.ui.task_output import clean_log_text, read_log_page


def test_a_small_file_is_read_whole(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("one\ntwo\n")
    assert read_log_page(path) == {"size": 8, "start": 0, "end": 8, "text": "one\ntwo\n"}


def test_the_tail_starts_at_a_line_break(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("".join(f"line {n}\n" for n in range(100)))
    page = read_log_page(path, max_bytes=20)
    assert page["text"] == "line 98\nline 99\n"
    assert page["end"] == page["size"] and page["start"] == page["size"] - len("line 98\nline 99\n")


def test_earlier_pages_end_where_the_later_started(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("".join(f"line {n}\n" for n in range(100)))
    tail = read_log_page(path, max_bytes=20)
    earlier = read_log_page(path, end=tail["start"], max_bytes=20)
    assert earlier["end"] == tail["start"]
    assert earlier["text"] == "line 96\nline 97\n"


def test_a_missing_file_is_none(tmp_path):
    assert read_log_page(tmp_path / "nothing.txt") is None


def test_escape_sequences_are_removed_and_controls_replaced():
    assert clean_log_text("\x1b[31mred\x1b[0m\r\nbar\rbaz\x07") == "red\nbar\nbaz\ufffd"


def test_invalid_utf8_becomes_replacement_characters(tmp_path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"ok \xff\n")
    assert read_log_page(path)["text"] == "ok \ufffd\n"
