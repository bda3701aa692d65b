"""Keys as file names: one rule for every file or directory named after a flow or task key.

Flow keys are any string a spec gives, so a key must never lead a path out
of its root (``'../x'``, ``'/etc'``), nor share its name with another key:
two flows whose keys differ only in unsafe characters (``'a b'`` and
``'a_b'``) must not write into each other's task logs or job dirs.

:func:`safe_file_name` keeps a key made of letters, digits, ``_``, ``-``
and ``.`` (not starting with a dot) as it is, so ordinary keys keep readable
names. Any other key has each unsafe character (and a leading dot) replaced
by ``_``, and ``+`` and the first 12 hex digits of the SHA-256 of the key
added. No kept key has a ``+``, so a kept key never meets a changed one, and
two changed keys differ in their hash. ``+`` is also plain for ``sbatch``,
which reads ``%`` in paths as a pattern. Standard library only.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["safe_file_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]|^\.")
# Long keys are cut, so that the name fits in a file system's 255 bytes.
_MAX_KEPT = 200


def safe_file_name(key: object) -> str:
    """Return ``key`` as one file name of its own: no separator, no leading dot.

    See the module docstring.
    """
    text = str(key)
    if text and len(text) <= _MAX_KEPT and not _UNSAFE.search(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_UNSAFE.sub('_', text[:_MAX_KEPT])}+{digest}"
