"""``mc ui``, a read-only status page in the browser, and ``mc report KEY``, that page as one file.

``mc ui`` serves :mod:`mc.ui.app` with uvicorn; it needs the ``ui`` extra
(``pip install 'missioncontrol[ui]'``). It binds to 127.0.0.1 unless told
otherwise: the page has no authentication, so binding to another address
needs ``--allow-remote`` as well as ``--host``, and prints a warning.

``mc report KEY -o flow.html`` writes :func:`mc.ui.report.flow_report`: no
server, no extra needed.

Exit codes: 0 served until stopped, or report written; 2 bad input (an
unknown key, a database that cannot be opened, a missing extra, a host
without ``--allow-remote``, a port that is taken, a file that cannot be
written).
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from mc.cli.terminal import printable
from mc.errors import StoreError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "add_ui_commands",
    "is_loopback",
]


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_ui_commands(commands: Any) -> None:
    """Add ``ui`` and ``report`` to ``commands`` (from ``ArgumentParser.add_subparsers``)."""
    from mc.cli.store_commands import add_db_option

    ui = commands.add_parser("ui", help="serve a read-only, live status page of the stored flows")
    add_db_option(ui)
    ui.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    ui.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port (default {DEFAULT_PORT})",
    )
    ui.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than a loopback address: anyone who reaches it reads every flow",
    )
    _add_logs_root(ui)
    ui.set_defaults(command=_ui_command)

    report = commands.add_parser(
        "report", help="write a flow's status page as one self-contained HTML file"
    )
    report.add_argument("key", help="the flow's key, or a unique prefix of it")
    add_db_option(report)
    report.add_argument(
        "--output", "-o", default=None, metavar="FILE", help="write here (default: standard output)"
    )
    _add_logs_root(report)
    report.set_defaults(command=_report_command)


def _add_logs_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--logs-root",
        default=None,
        metavar="DIR",
        help="where the runners put task logs, as for mc logs "
        "(default: $MC_LOGS_ROOT, else mc_logs)",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port number from 1 to 65535, got {text!r}"
        ) from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {value}")
    return value


def is_loopback(host: str) -> bool:
    """True if ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ui_command(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from mc.ui.app import LOOPBACK_HOSTS, create_app
    except ImportError as error:
        print(
            f"mc ui: needs the ui extra ({error.name or error} is missing): "
            "pip install 'missioncontrol[ui]'",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    loopback = is_loopback(args.host)
    if not loopback and not args.allow_remote:
        print(
            f"mc ui: --host {printable(args.host)} is not a loopback address: the status page "
            "has no authentication, so anyone who can reach it could read every flow. Add "
            "--allow-remote to bind there anyway (behind a firewall or an authenticating proxy), "
            "or keep the "
            f"default {DEFAULT_HOST} and use an SSH tunnel",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from mc.store import FlowStore, default_db_url

    try:
        store = FlowStore(args.db or default_db_url())
    except StoreError as error:
        print(f"mc ui: {printable(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not loopback:
        print(
            f"mc ui: WARNING: serving on {printable(args.host)}, not a loopback address; the page "
            "has no authentication: anyone who can reach this port can read every flow, its "
            "labels, errors and job output",
            file=sys.stderr,
        )
    try:
        # Bound here, not by uvicorn, so that a port in use is a clear message and exit status 2.
        listening = _listen(args.host, args.port)
    except OSError as error:
        store.close()
        print(
            f"mc ui: cannot listen on {printable(args.host)} port {args.port}: "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    allowed = [*LOOPBACK_HOSTS, shown_host] if loopback else ["*"]
    app = create_app(store, allowed_hosts=allowed, logs_root=args.logs_root)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    print(
        f"mc ui: read-only status page at http://{shown_host}:{args.port}/ (Ctrl-C stops it)",
        flush=True,
    )
    try:
        server.run(sockets=[listening])
    finally:
        listening.close()
        store.close()
    return EXIT_OK


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host`` and ``port``, listening; raises OSError if it cannot be."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, protocol, _, address = infos[0]
    listening = socket.socket(family, kind, protocol)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(128)
        listening.set_inheritable(True)
    except OSError:
        listening.close()
        raise
    return listening


def _report_command(args: argparse.Namespace) -> int:
    from mc.store import FlowStore, default_db_url
    from mc.ui.report import flow_report
    from mc.ui.views import ViewError

    try:
        with FlowStore(args.db or default_db_url()) as store:
            text = flow_report(store, args.key, args.logs_root)
    except ViewError as error:
        print(f"mc report: {printable(error.message, keep_newlines=True)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreError as error:
        print(f"mc report: {printable(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as error:
        print(
            f"mc report: cannot write {printable(args.output)}: {error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    print(f"mc report: wrote {printable(args.output)}", file=sys.stderr)
    return EXIT_OK
