"""The store's schema lives in Alembic migrations shipped inside the package."""

from __future__ import annotations

from importlib import resources

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mc.errors import StoreError
from mc.store import FlowStore
from mc.store.database import current_revision, head_revision, make_engine, upgrade_schema
from mc.store.tables import VERSION_TABLE, metadata


def test_migrations_ship_inside_the_package():
    migrations = resources.files("mc.store").joinpath("migrations")
    assert migrations.joinpath("env.py").is_file()
    assert any(path.name.endswith(".py") for path in migrations.joinpath("versions").iterdir())


def test_a_new_database_is_created_at_the_newest_revision(db_url):
    with FlowStore(db_url) as store, store._engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        assert sa.inspect(connection).has_table("mc_flows")
        assert sa.inspect(connection).has_table(VERSION_TABLE)


def test_the_migrations_build_exactly_the_tables_the_code_uses(db_url):
    with FlowStore(db_url) as store, store._engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_an_up_to_date_database_is_left_alone(db_url):
    engine = make_engine(db_url)
    try:
        assert upgrade_schema(engine) is True
        assert upgrade_schema(engine) is False
    finally:
        engine.dispose()


def test_opening_an_existing_store_keeps_its_flows(db_url):
    with FlowStore(db_url) as store:
        key = store.create_flow({"tasks": [{"key": "a", "task_type": "noop"}]})
    with FlowStore(db_url) as store:
        assert store.get_flow(key).key == key


def test_the_store_leaves_other_tables_and_alembic_histories_alone(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32))")
            connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('their_rev')")
        with FlowStore(sqlite_url):
            pass
        with engine.connect() as connection:
            theirs = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert theirs.scalars().all() == ["their_rev"]
    finally:
        engine.dispose()


NEXT_MIGRATION = '''"""A later version's migration: a column with a default.

Revision ID: 9999
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mc_flows") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("mc_flows") as batch:
        batch.drop_column("priority")
'''


def test_a_later_migration_upgrades_an_existing_database_in_place_keeping_its_flows(
    db_url, tmp_path
):
    import shutil

    from mc.store.database import migrations_dir

    with FlowStore(db_url) as store:
        key = store.create_flow({"tasks": [{"key": "a", "task_type": "noop"}]})
    later = tmp_path / "later_migrations"
    shutil.copytree(migrations_dir(), later, ignore=shutil.ignore_patterns("__pycache__"))
    (later / "versions" / "9999_priority.py").write_text(
        NEXT_MIGRATION.format(head=head_revision())
    )
    engine = make_engine(db_url)
    try:
        assert upgrade_schema(engine, str(later)) is True
        with engine.connect() as connection:
            assert current_revision(connection) == "9999"
            row = connection.exec_driver_sql("SELECT key, priority FROM mc_flows").one()
        assert tuple(row) == (key, 0)
    finally:
        engine.dispose()


def test_processes_opening_a_new_database_at_once_create_it_once(db_url):
    import subprocess
    import sys

    code = "import sys; from mc.store import FlowStore; FlowStore(sys.argv[1]).close()"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()
        assert [tuple(row) for row in rows] == [(head_revision(),)]
    finally:
        engine.dispose()


def test_a_database_written_by_a_newer_version_is_refused_and_left_alone(db_url):
    with FlowStore(db_url) as store:
        key = store.create_flow({"tasks": [{"key": "a", "task_type": "noop"}]})
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"UPDATE {VERSION_TABLE} SET version_num = 'from_the_future'"
            )
        with pytest.raises(StoreError, match="revision 'from_the_future'.*a newer version"):
            FlowStore(db_url)
        with engine.connect() as connection:
            assert current_revision(connection) == "from_the_future"
            assert connection.exec_driver_sql("SELECT key FROM mc_flows").scalars().all() == [key]
    finally:
        engine.dispose()


def test_key_status_label_parent_key_and_timestamps_are_indexed(db_url):
    with FlowStore(db_url) as store, store._engine.connect() as connection:
        inspector = sa.inspect(connection)
        indexed = {
            column
            for index in inspector.get_indexes("mc_flows")
            for column in index["column_names"]
        }
        primary_key = inspector.get_pk_constraint("mc_flows")["constrained_columns"]
    assert primary_key == ["key"]
    assert {"status", "label", "parent_key", "created_at", "updated_at"} <= indexed
