"""Every public FlowStore method turns real database failures into StoreDatabaseError.

The failures are real: PostgreSQL sessions ended by ``pg_terminate_backend``,
a server cut off behind a TCP relay, a table dropped behind the store's
back, a SQLite file replaced by a non-database file, opened read-only, or
whose directory is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest
import sqlalchemy as sa

from mc.errors import StoreDatabaseError, StoreError, StoreUnavailableError
from mc.flows import Flow
from mc.store import FlowStore
from tests.conftest import with_application_name


def spec(key: str) -> dict:
    return {"key": key, "tasks": [{"key": "t", "task_type": "noop"}]}


def leased(store: FlowStore, flow: Flow) -> None:
    with store.leased("f", "tool"):
        pass


#: Every public method that reaches the database, called on a store that holds
#: flow "f" (``flow`` is it, loaded before the failure).
METHODS = {
    "create_flow": lambda store, flow: store.create_flow(spec("new")),
    "get_flow": lambda store, flow: store.get_flow("f"),
    "get_record": lambda store, flow: store.get_record("f"),
    "save_flow": lambda store, flow: store.save_flow(flow),
    "fail_flow": lambda store, flow: store.fail_flow("f", "by hand"),
    "delete_flow": lambda store, flow: store.delete_flow("f"),
    "query": lambda store, flow: store.query(),
    "count_by_status": lambda store, flow: store.count_by_status(),
    "claim": lambda store, flow: store.claim(1, lease_s=30, runner_id="runner"),
    "claim_flow": lambda store, flow: store.claim_flow("f", lease_s=30, runner_id="runner"),
    "release": lambda store, flow: store.release(["f"], "runner"),
    "leased": leased,
}
WRITING_METHODS = [
    "create_flow",
    "save_flow",
    "fail_flow",
    "delete_flow",
    "claim",
    "claim_flow",
    "release",
    "leased",
]
all_methods = pytest.mark.parametrize("method", list(METHODS))


def operation(method: str) -> str:
    """The call an error names: ``leased`` fails in its claim."""
    return "claim_flow" if method == "leased" else method


def store_holding_f(url: str) -> tuple[FlowStore, Flow]:
    store = FlowStore(url)
    store.create_flow(spec("f"))
    return store, store.get_flow("f")


# -- PostgreSQL ----------------------------------------------------------------


@all_methods
def test_a_session_ended_by_the_server_raises_store_unavailable_error(
    postgres_url, terminate_postgres_sessions, method
):
    name = f"mc_errors_{method}"
    store, flow = store_holding_f(with_application_name(postgres_url, name))
    with store:
        assert terminate_postgres_sessions(name) >= 1
        with pytest.raises(StoreUnavailableError, match="terminating connection") as caught:
            METHODS[method](store, flow)
        message = str(caught.value)
        assert message.startswith("flow store at postgresql+psycopg://mc:***@127.0.0.1")
        assert f": {operation(method)}(" in message
        assert caught.value.operation.startswith(operation(method))
        assert "mc:mc@" not in message and "[SQL:" not in message


def test_the_store_connects_again_after_the_server_ended_its_sessions(
    postgres_url, terminate_postgres_sessions
):
    store, _ = store_holding_f(with_application_name(postgres_url, "mc_errors_again"))
    with store:
        terminate_postgres_sessions("mc_errors_again")
        with pytest.raises(StoreUnavailableError):
            store.get_record("f")
        assert store.get_flow("f").key == "f"


@all_methods
def test_a_server_cut_off_raises_store_unavailable_error(postgres_proxy_url, method):
    url, proxy = postgres_proxy_url
    store, flow = store_holding_f(url)
    with store:
        proxy.stop()
        with pytest.raises(StoreUnavailableError) as caught:
            METHODS[method](store, flow)
        assert str(caught.value).startswith(f"flow store at {store.url}: {operation(method)}(")
        # Nothing is left half-done: with the server back, the flow is as it was.
        proxy.start()
        with contextlib.suppress(StoreUnavailableError):
            store.get_record("f")  # may still meet a connection that was cut
        record = store.get_record("f")
        assert (record.version, record.lease_owner) == (1, None)


def test_opening_a_store_on_an_unreachable_server_raises_store_unavailable_error():
    opening = "cannot open the flow store at .*:1/"
    with pytest.raises(StoreUnavailableError, match=opening) as caught:
        FlowStore("postgresql://someone:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(caught.value)
    assert caught.value.url == "postgresql+psycopg://someone:***@127.0.0.1:1/nothing"


def test_opening_a_store_with_a_wrong_password_raises_store_unavailable_error_hiding_it(
    postgres_server_url,
):
    url = sa.make_url(postgres_server_url).set(password="not-the-password-9x")
    with pytest.raises(StoreUnavailableError, match="password authentication failed") as caught:
        FlowStore(url.render_as_string(hide_password=False))
    assert "not-the-password-9x" not in str(caught.value)


# -- both databases --------------------------------------------------------------


@all_methods
def test_a_dropped_table_raises_store_database_error_not_unavailable(db_url, method):
    store, flow = store_holding_f(db_url)
    with store:
        with store._engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE mc_flows"))
        with pytest.raises(StoreDatabaseError, match="mc_flows") as caught:
            METHODS[method](store, flow)
        assert not isinstance(caught.value, StoreUnavailableError)
        assert str(caught.value).startswith(f"flow store at {store.url}: {operation(method)}(")


def test_store_database_errors_are_store_errors():
    assert issubclass(StoreUnavailableError, StoreDatabaseError)
    assert issubclass(StoreDatabaseError, StoreError)


# -- SQLite files ------------------------------------------------------------------


@all_methods
def test_a_file_that_is_no_longer_a_database_raises_store_database_error(tmp_path, method):
    path = tmp_path / "mc.db"
    store, flow = store_holding_f(f"sqlite:///{path}")
    with store:
        store.close()  # later calls connect again, and find notes
        for leftover in tmp_path.glob("mc.db-*"):
            leftover.unlink()
        path.write_text("these are my notes, not a database\n")
        with pytest.raises(StoreDatabaseError, match="file is not a database") as caught:
            METHODS[method](store, flow)
        assert not isinstance(caught.value, StoreUnavailableError)
    assert path.read_text() == "these are my notes, not a database\n"


@all_methods
def test_a_sqlite_file_whose_directory_is_gone_raises_store_unavailable_error(tmp_path, method):
    directory = tmp_path / "flows"
    directory.mkdir()
    store, flow = store_holding_f(f"sqlite:///{directory / 'mc.db'}")
    with store:
        store.close()
        shutil.rmtree(directory)
        with pytest.raises(StoreUnavailableError, match="unable to open database file"):
            METHODS[method](store, flow)
    assert not os.path.exists(directory)


@pytest.mark.parametrize("method", WRITING_METHODS)
def test_writing_to_a_read_only_sqlite_file_raises_store_database_error(tmp_path, method):
    path = tmp_path / "mc.db"
    with FlowStore(f"sqlite:///{path}") as writer:
        writer.create_flow(spec("f"))
    with FlowStore(f"sqlite:///file:{path}?mode=ro&uri=true") as store:
        flow = store.get_flow("f")
        with pytest.raises(StoreDatabaseError, match="readonly database") as caught:
            METHODS[method](store, flow)
        assert not isinstance(caught.value, StoreUnavailableError)
        assert store.get_record("f").version == 1  # reading still works
