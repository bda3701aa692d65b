"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
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
    url = sa.make_url(postgres_server_url).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
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
