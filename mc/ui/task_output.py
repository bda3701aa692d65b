"""Pages of a task's output files, for the status page: a tail, or the page before an offset.

Which files hold a task's output is :func:`mc.flows.task_logs.task_output_files`'s
answer, as for ``mc logs``: the task's log, its job's stdout and stderr, and
a SLURM job's scheduler log.

A log can be large (a job that prints for days), so it is never sent whole:
:func:`read_log_page` reads at most ``max_bytes`` of a file, ending at a
byte offset (by default its end: the tail). A page that does not start at
the file's beginning starts after the first line break in it, so that it
holds whole lines (unless one line is longer than the page); its ``start``
says where, and asking for the page that ends there gives the lines before.

Text is decoded as UTF-8 (bad bytes become U+FFFD); terminal escape
sequences are removed and other control characters but tab and newline
become U+FFFD, so that what a job printed shows as text (the page escapes
it too; this keeps colour codes from showing as noise).

Standard library only.
"""

from __future__ import annotations

import os
import re
from typing import Any

from mc.flows.task_logs import open_regular

__all__ = ["DEFAULT_PAGE_BYTES", "MAX_PAGE_BYTES", "clean_log_text", "read_log_page"]


#: How much of a file one page holds unless asked otherwise, and at most.
DEFAULT_PAGE_BYTES = 64 * 1024
MAX_PAGE_BYTES = 1024 * 1024

_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_log_text(text: str) -> str:
    """Return ``text`` without escape sequences; ``\\r\\n`` as ``\\n``; other controls as U+FFFD."""
    text = _ESCAPE_SEQUENCE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("\ufffd", text)


def read_log_page(
    path: str | os.PathLike[str], end: int | None = None, max_bytes: int = DEFAULT_PAGE_BYTES
) -> dict[str, Any] | None:
    """Return the page of the file at ``path`` that ends at byte ``end`` (default: its end).

    The answer is ``{'size', 'start', 'end', 'text'}``: the file's size,
    the byte range read, and its text (see the module docstring); None if
    the file does not exist, or is not a regular file reached without a
    symlink. ``end`` past the file's end is its end (a file cut shorter
    since the last look).
    """
    # Not through a symlink, and never a FIFO: a job may plant either (see open_regular).
    fd = open_regular(path)
    if fd is None:
        return None
    with open(fd, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        stop = size if end is None else max(0, min(end, size))
        start = max(0, stop - max_bytes)
        file.seek(start)
        data = file.read(stop - start)
    stop = start + len(data)  # the file may have been cut while we read
    if start > 0:
        line_break = data.find(b"\n")
        if 0 <= line_break < len(data) - 1:
            start += line_break + 1
            data = data[line_break + 1 :]
    return {
        "size": size,
        "start": start,
        "end": stop,
        "text": clean_log_text(data.decode("utf-8", errors="replace")),
    }
