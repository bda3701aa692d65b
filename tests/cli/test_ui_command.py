"""``mc ui``'s command line: where it binds, and what it says."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from mc.cli import main
from mc.cli.ui_commands import is_loopback
from tests.ui.conftest import free_port


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_local(host, loopback):
    assert is_loopback(host) is loopback


def test_binding_elsewhere_without_allow_remote_is_refused(tmp_path, capsys):
    assert main(["ui", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0 is not a loopback address" in err and "--allow-remote" in err
    assert not (tmp_path / "x.db").exists()


def test_a_port_out_of_range_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ui", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "expected a port number from 1 to 65535" in capsys.readouterr().err


def test_binding_elsewhere_with_allow_remote_warns_and_serves(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mc",
            "ui",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--allow-remote",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/flows", timeout=2
                ) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.1)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert "WARNING: serving on 0.0.0.0" in err and "no authentication" in err
    assert f"http://0.0.0.0:{port}/" in out
    assert "sqlite" not in out + err


def test_a_port_in_use_is_bad_input_with_a_clear_message(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mc",
                "ui",
                "--db",
                f"sqlite:///{tmp_path / 'x.db'}",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"mc ui: cannot listen on 127.0.0.1 port {port}: Address already in use" in result.stderr
    assert "status page at" not in result.stdout


def test_without_the_ui_extra_it_says_how_to_install_it(tmp_path):
    # As if uvicorn were not installed: importing it fails.
    code = (
        "import sys; sys.modules['uvicorn'] = None; from mc.cli import main; "
        f"sys.exit(main(['ui', '--db', 'sqlite:///{tmp_path / 'x.db'}']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'missioncontrol[ui]'" in result.stderr
