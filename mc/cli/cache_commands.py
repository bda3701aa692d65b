"""``mc cache``: look after the task cache.

``mc cache ls`` lists the entries (and keys being computed), newest first;
``mc cache show KEY`` prints one entry as JSON, its data and provenance
included; ``mc cache rm KEY`` deletes one; ``mc cache clear`` deletes every
entry, or with ``--older-than 30d`` those made more than 30 days ago.
Wherever a key is asked for, a unique prefix of it will do.

Which cache: the flow store's, given by ``--db URL`` or ``$MC_DB_URL`` (as
``mc runner`` uses it); else the local cache of ``mc run``, in the user's
cache directory, or the one ``--cache-db URL`` names (which wins over
``$MC_DB_URL``).

The local cache is made by ``mc run`` when a task first uses it. Until then,
``mc cache`` reads it as empty and does not create it: ``ls`` lists nothing,
``clear`` deletes nothing, and ``show`` and ``rm`` find no key.

Exit codes: 0 success; 1 nothing to do (``rm`` of a key that went meanwhile);
2 bad input (an unknown or ambiguous key, a database that cannot be opened).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mc.cli.arguments import non_negative_duration, positive_int
from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from mc.cli.terminal import columns, printable
from mc.errors import StoreError

__all__ = ["add_cache_commands", "cache_database_url", "format_cache_table"]


if TYPE_CHECKING:
    from mc.store.cache import SqlTaskCache


#: How many rows ``mc cache ls`` lists without ``--limit`` or ``--all``.
_LS_DEFAULT_LIMIT = 50
#: How many characters of a key ``mc cache ls`` shows.
_SHORT_KEY = 16


def add_cache_commands(commands: Any) -> None:
    """Add ``cache`` (with ``ls``, ``show``, ``rm`` and ``clear``) to ``commands``."""
    cache = commands.add_parser("cache", help="list, show and delete task cache entries")
    actions = cache.add_subparsers(metavar="ACTION")

    ls = actions.add_parser("ls", help="list the entries, newest first")
    _add_database(ls)
    limits = ls.add_mutually_exclusive_group()
    limits.add_argument(
        "--limit",
        type=positive_int,
        default=_LS_DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N rows (default {_LS_DEFAULT_LIMIT})",
    )
    limits.add_argument("--all", action="store_true", help="every row")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(command=_with_cache("ls", _ls))

    show = actions.add_parser("show", help="print one entry as JSON: data and provenance")
    show.add_argument("key", help="the entry's key, or a unique prefix of it")
    _add_database(show)
    show.set_defaults(command=_with_cache("show", _show))

    rm = actions.add_parser("rm", help="delete one entry")
    rm.add_argument("key", help="the entry's key, or a unique prefix of it")
    _add_database(rm)
    rm.set_defaults(command=_with_cache("rm", _rm))

    clear = actions.add_parser("clear", help="delete every entry, or the older ones")
    _add_database(clear)
    clear.add_argument(
        "--older-than",
        type=non_negative_duration,
        default=None,
        metavar="DURATION",
        help="only entries made more than DURATION ago, as 12h, 30d",
    )
    clear.set_defaults(command=_with_cache("clear", _clear))

    def no_action(args: argparse.Namespace) -> int:
        cache.print_help(sys.stderr)
        return EXIT_BAD_INPUT

    cache.set_defaults(command=no_action)


def _add_database(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="the flow store whose cache to use (default: $MC_DB_URL, else the local cache)",
    )
    where.add_argument(
        "--cache-db",
        default=None,
        metavar="URL",
        help="a cache database of its own, as `mc run --cache-db` uses (default: "
        "the local cache in your user cache dir)",
    )


def cache_database_url(args: argparse.Namespace) -> str:
    """Return the URL of the cache a ``mc cache`` command works on (see the module docstring)."""
    from mc.store.cache import default_cache_db_url

    return args.cache_db or args.db or os.environ.get("MC_DB_URL") or default_cache_db_url()


def _with_cache(
    name: str, command: Callable[[argparse.Namespace, SqlTaskCache], int]
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from mc.store.cache import SqlTaskCache

        missing = _missing_local_cache(args)
        if missing is not None:
            return _on_missing_local_cache(name, args, missing)
        try:
            cache = SqlTaskCache(cache_database_url(args))
        except StoreError as error:
            print(f"mc cache {name}: {printable(error)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        try:
            return command(args, cache)
        except StoreError as error:
            print(f"mc cache {name}: {printable(error, keep_newlines=True)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        finally:
            cache.close()

    return run


def _missing_local_cache(args: argparse.Namespace) -> Path | None:
    """Return the local cache's path if it is the cache asked for and does not exist yet."""
    from mc.store.cache import LOCAL_CACHE_FILE, user_cache_dir

    if args.cache_db or args.db or os.environ.get("MC_DB_URL"):
        return None
    path = user_cache_dir() / LOCAL_CACHE_FILE
    return None if path.exists() else path


def _on_missing_local_cache(name: str, args: argparse.Namespace, path: Path) -> int:
    """Answer ``mc cache NAME`` as for an empty cache, without making the file."""
    if name == "ls":
        print("[]" if args.json else format_cache_table([], now=0.0))
        return EXIT_OK
    if name == "clear":
        print(f"deleted 0 cache entries (there is no local cache yet at {printable(str(path))})")
        return EXIT_OK
    print(
        f"mc cache {name}: no cache entry has a key starting with {printable(repr(args.key))}: "
        f"there is no local cache yet at {printable(str(path))}",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT


def _ls(args: argparse.Namespace, cache: SqlTaskCache) -> int:
    rows = cache.entries(limit=None if args.all else args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(format_cache_table(rows, now=cache.clock()))
    return EXIT_OK


def format_cache_table(rows: list[dict[str, Any]], now: float) -> str:
    """Return a text table of cache rows: key, task type, made by, created, expires, claim."""
    table = [("KEY", "TYPE", "MADE BY", "CREATED", "EXPIRES", "CLAIMED BY")]
    for row in rows:
        made_by = "-"
        if row.get("flow_key") is not None:
            made_by = f"{printable(row['flow_key'])}/{printable(row['task_key'])}"
        claimed = "-"
        if row.get("claim_owner") and (row.get("claim_expires_at") or 0) > now:
            claimed = printable(row["claim_owner"])
        expires = _format_time(row.get("expires_at"))
        if row.get("expires_at") is not None and row["expires_at"] <= now:
            expires += " (expired)"
        table.append(
            (
                row["key"][:_SHORT_KEY],
                printable(row.get("task_type") or "-"),
                made_by,
                _format_time(row.get("created_at")),
                expires,
                claimed,
            )
        )
    return columns(table)


def _format_time(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch_s).isoformat(sep=" ", timespec="seconds")


def _show(args: argparse.Namespace, cache: SqlTaskCache) -> int:
    key = cache.resolve_key(args.key)
    found = cache.get(key)
    if found is None:
        print(f"mc cache show: the entry {key} was deleted meanwhile", file=sys.stderr)
        return EXIT_FAILED
    # ensure_ascii: control characters in stored data come out escaped.
    print(json.dumps(found, indent=2, ensure_ascii=True))
    return EXIT_OK


def _rm(args: argparse.Namespace, cache: SqlTaskCache) -> int:
    key = cache.resolve_key(args.key)
    if not cache.delete(key):
        print(f"mc cache rm: the entry {key} was deleted meanwhile", file=sys.stderr)
        return EXIT_FAILED
    print(f"deleted {key}")
    return EXIT_OK


def _clear(args: argparse.Namespace, cache: SqlTaskCache) -> int:
    count = cache.clear(older_than_s=args.older_than)
    which = f" made more than {args.older_than:g}s ago" if args.older_than is not None else ""
    print(f"deleted {count} cache entries{which} from {cache.url}")
    return EXIT_OK
