"""Issue 9, item 5: no password or secret parameter of a database URL reaches any
output: the runner banner, error messages, or the store's repr."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from mc.cli import main
from mc.store import FlowStore, StoreError
from mc.store.redaction import redact_db_url, scrub_secrets

SECRET = "Hunter2Secret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://mc:{SECRET}@db:5432/mc", "postgresql://mc:***@db:5432/mc"),
        (f"postgresql://mc:{SECRET}@@db/mc", "postgresql://mc:***@db/mc"),
        (f"postgresql://mc:a@{SECRET}@db/mc", "postgresql://mc:***@db/mc"),
        (
            f"postgresql://db/mc?sslmode=require&password={SECRET}&AuthToken={SECRET}"
            f"&client_secret={SECRET}&passwd={SECRET}",
            "postgresql://db/mc?sslmode=require&password=***&AuthToken=***"
            "&client_secret=***&passwd=***",
        ),
        (f"postgresql://db/mc#{SECRET}", "postgresql://db/mc"),
        (f"mc:{SECRET}@db", "*** (not of the form scheme://...; not shown)"),
        ("sqlite:////tmp/a@b/mc.db", "sqlite:////tmp/a@b/mc.db"),
    ],
)
def test_redaction_hides_every_secret_of_a_url(url, shown):
    assert redact_db_url(url) == shown
    assert SECRET not in redact_db_url(url)


def test_scrubbing_hides_the_part_of_a_password_a_parser_took_for_a_host():
    url = f"postgresql://mc:pw@{SECRET}@127.0.0.1/mc"
    message = f"failed to resolve host '{SECRET}@127.0.0.1'"
    assert scrub_secrets(message, url) == "failed to resolve host '***@127.0.0.1'"


@pytest.mark.parametrize(
    "url",
    [
        # An unescaped '@' in the password: the driver resolves 'Secret@127.0.0.1'.
        f"postgresql://mc:mc@{SECRET}@127.0.0.1:5432/mc_test",
        f"postgresql://mc@127.0.0.1:1/mc_test?password={SECRET}",
        f"postgresql://mc:{SECRET}@127.0.0.1:notaport/mc_test",
        f"postgresql://mc:{SECRET}@127.0.0.1:70000/mc_test",
        f"nosuchdb://mc:{SECRET}@127.0.0.1/x",
    ],
)
def test_store_errors_never_show_the_password(url, capsys):
    assert main(["ls", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "mc ls:" in err
    assert SECRET not in err
    with pytest.raises(StoreError) as caught:
        FlowStore(url)
    assert SECRET not in str(caught.value)


def test_runner_banner_hides_a_password_given_as_a_query_parameter(postgres_url):
    url = sa.make_url(postgres_url)
    password = url.password
    assert password
    text = url.render_as_string(hide_password=False).replace(f":{password}@", "@", 1)
    text += f"&password={password}" if "?" in text else f"?password={password}"
    assert f"password={password}" in text
    result = subprocess.run(
        [sys.executable, "-m", "mc", "runner", "--once", "--db", text],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "password=***" in result.stdout
    assert f"={password}" not in result.stdout + result.stderr
    with FlowStore(text) as store:
        assert f"password={password}" not in repr(store)
        assert "password=***" in store.url
