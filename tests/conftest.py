"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid

import pytest

from mc.flows import FlowEngine


class FakeClock:
    """A clock the tests move by hand: no test sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock, starting at a fixed epoch time."""
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> FlowEngine:
    """A fresh engine with its own registry and the fake clock."""
    return FlowEngine(clock=clock)


# -- databases for mc.store and mc.runner -------------------------------------

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test PostgreSQL server's URL ($MC_TEST_POSTGRES_URL or the default).

    Without a reachable server the test fails when CI=true, else skips.
    """
    import sqlalchemy as sa

    url = os.environ.get("MC_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as error:  # any reason the server cannot be used
        message = (
            f"PostgreSQL at {sa.make_url(url).render_as_string(hide_password=True)} is not "
            f"reachable ({type(error).__name__}: {str(error).strip().splitlines()[0]}); "
            "start it with `bash scripts/start_test_services.sh` (as root)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str):
    """A URL to a fresh, empty schema of the test PostgreSQL database, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"mc_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A URL to a new SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'mc.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """A URL to a new, empty database: a SQLite file, then a PostgreSQL schema."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def flow_store(db_url: str, clock: FakeClock):
    """A FlowStore on a new database (SQLite and PostgreSQL), with the fake clock."""
    from mc.store import FlowStore

    with FlowStore(db_url, clock=clock) as store:
        yield store


@pytest.fixture
def terminate_postgres_sessions(postgres_server_url: str):
    """A function that ends every PostgreSQL session with a given ``application_name``.

    As a server restart or an administrator would; returns how many ended.
    """
    import sqlalchemy as sa

    def terminate(application_name: str) -> int:
        admin = sa.create_engine(postgres_server_url)
        try:
            with admin.begin() as connection:
                return connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": application_name},
                ).scalar_one()
        finally:
            admin.dispose()

    return terminate


def with_application_name(url: str, application_name: str) -> str:
    """``url`` with its sessions named ``application_name`` (see terminate_postgres_sessions)."""
    import sqlalchemy as sa

    return (
        sa.make_url(url)
        .update_query_dict({"application_name": application_name})
        .render_as_string(hide_password=False)
    )


class TcpProxy:
    """A TCP relay on 127.0.0.1 to a server, that a test can cut and restore.

    ``stop()`` closes the listening socket and every relayed connection, so
    that the server is unreachable through the proxy, as when a network
    fails or a server goes away; ``start()`` listens again on the same port.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Listen (again) and relay every connection to the target."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Stop listening and cut every relayed connection."""
        with self._lock:
            sockets = [self._listener, *self._sockets] if self._listener else list(self._sockets)
            self._sockets.clear()
            self._listener = None
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                server = socket.create_connection(self.target)
            except OSError:  # stopped
                return
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:  # cut by stop(), or the other side closed
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def postgres_proxy_url(postgres_url: str):
    """``postgres_url`` through a :class:`TcpProxy`: yields ``(url, proxy)``.

    ``proxy.stop()`` cuts the server off; ``proxy.start()`` brings it back.
    """
    import sqlalchemy as sa

    target = sa.make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    url = target.set(port=proxy.port).render_as_string(hide_password=False)
    yield url, proxy
    proxy.stop()
