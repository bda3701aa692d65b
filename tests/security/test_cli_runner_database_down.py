"""Issue 9, item 7: a bad port in ``--db`` is a usage error, and ``mc runner`` started
while its database is down waits for it with a visible message (unless ``--once``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from mc.cli import main


@pytest.mark.parametrize("port", ["notaport", "70000", "-1"])
@pytest.mark.parametrize("command", ["ls", "runner", "submit"])
def test_bad_port_in_db_is_a_usage_error(command, port, tmp_path, capsys):
    argv = [command, "--db", f"postgresql://mc:mc@127.0.0.1:{port}/mc_test"]
    if command == "submit":
        argv.insert(1, str(tmp_path / "missing.yaml"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "port" in err
    assert "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Forwarder:
    """A TCP forwarder from a local port to the real PostgreSQL server: the
    database "comes up" on the runner's port when the forwarder starts."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.target = target
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def _runner(url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mc", "runner", "--db", url, "--interval", "0.1", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_runner_once_with_database_down_exits_2_at_once(postgres_url):
    url = sa.make_url(postgres_url).set(port=_free_port()).render_as_string(hide_password=False)
    process = _runner(url, "--once")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "Connection refused" in err


def test_runner_waits_for_a_database_that_is_down_then_runs(postgres_url):
    real = sa.make_url(postgres_url)
    port = _free_port()
    url = real.set(port=port).render_as_string(hide_password=False)
    process = _runner(url, "--until-done")
    forwarder = None
    try:
        assert process.stderr is not None
        seen = ""
        while "trying again" not in seen:
            line = process.stderr.readline()
            assert line, f"the runner exited: {seen}"
            seen += line
        assert "Connection refused" in seen
        assert "waiting for the database; trying again in 1s" in seen
        time.sleep(0.5)
        assert process.poll() is None  # still waiting, not exited
        forwarder = _Forwarder(port, (real.host or "127.0.0.1", real.port or 5432))
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        if forwarder is not None:
            forwarder.close()
    assert process.returncode == 0, err
    assert f"127.0.0.1:{port}" in out  # the banner, once the database is up
    assert "done:" in out
