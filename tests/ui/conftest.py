"""Fixtures for the status page: a SQLite store with flows in every status, ``mc ui`` as a real server, headless Chromium.

The store holds:

* ``pending``: submitted, never ticked (PENDING);
* ``done``: a noop task, then a print task (its task log says
  ``hello from b``), run to the end (COMPLETED);
* ``broken``: a task of an unknown type, so the flow FAILED and the task
  after it was SKIPPED;
* ``sweep``: a spread of three local jobs (real processes, run by the
  ``local`` executor) that print a line, then wait for a gate file; the
  flow is RUNNING with its jobs running until the test opens the gate
  (:meth:`DemoStore.open_gate`) and ticks the runner (:meth:`DemoStore.tick`);
* ``hostile``: a flow whose label and task label are HTML with scripts.

Without Chromium and chromedriver, browser tests skip, or fail when CI=true.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mc.flows import FlowEngine
from mc.flows.task_logs import TaskLogs
from mc.jobs.executors.local import LocalExecutor
from mc.jobs.job_modules import JobTypeRegistry
from mc.runner import FlowRunner
from mc.store import FlowStore
from tests.jobs.conftest import ShellJob, service_missing

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

#: A label that would run script if the page put it into HTML unescaped.
HOSTILE_LABEL = '<script>window.__mc_xss = 1</script><img src=x onerror="window.__mc_xss = 2">'
SWEEP_VALUES = ["alpha", "beta", "gamma"]


def _job_spec(gate: Path) -> dict[str, Any]:
    # The job prints, then waits for the gate file; its output is checked by the tests.
    command = (
        'echo "item $(cat item) working"; '
        f"while [ ! -e {gate} ]; do sleep 0.05; done; "
        'echo "item $(cat item) done"; echo ok > out.txt'
    )
    return {
        "key": "sweep",
        "label": "sweep",
        "data": {"xs": SWEEP_VALUES},
        "tasks": [
            {
                "key": "sweep",
                "task_type": "spread",
                "task_params": {
                    "items": "$ctx.flow.data.xs",
                    "mapping_params": {
                        "skeleton": {
                            "key": "evaluate",
                            "task_type": "job",
                            "task_params": {
                                "job_type": "shell",
                                "executor": "local",
                                "job_params": {"command": command, "files": {"item": ""}},
                            },
                        },
                        "wirings": ["ctx.item.value => task_params.job_params.files.item"],
                    },
                },
            },
            {"key": "summary", "task_type": "noop", "precursors": ["sweep"]},
        ],
    }


class DemoStore:
    """The test store (see the module docstring), and a runner to advance it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_url = f"sqlite:///{root / 'ui.db'}"
        self.gate = root / "gate"
        self.jobs_root = root / "jobs"
        self.jobs_root.mkdir()
        self.logs_root = root / "logs"
        self.store = FlowStore(self.db_url)
        # What task handlers print goes to task logs, as under `mc runner`.
        self.engine = FlowEngine(task_output=TaskLogs(self.logs_root))
        # One slot per item, so that every job of the sweep runs at once.
        self.engine.register_executor(
            "local", LocalExecutor(max_jobs=len(SWEEP_VALUES)), replace=True
        )
        self.runner = FlowRunner(
            self.store,
            self.engine,
            task_ctx={
                "job_types": JobTypeRegistry({"shell": ShellJob}),
                "jobs_root": str(self.jobs_root),
            },
            poll_interval_s=0.0,
        )
        self.keys: dict[str, str] = {}

    def build(self) -> None:
        """Store the flows, and run each as far as the module docstring says."""
        self.keys["done"] = self.store.create_flow(
            {
                "key": "done",
                "label": "done",
                "tasks": [
                    {"key": "a", "task_type": "noop"},
                    {
                        "key": "b",
                        "task_type": "print",
                        "task_params": {"msg": "hello from b"},
                        "precursors": ["a"],
                    },
                ],
            }
        )
        self.keys["broken"] = self.store.create_flow(
            {
                "key": "broken",
                "label": "broken",
                "tasks": [
                    {"key": "fetch", "task_type": "noop"},
                    {"key": "upload", "task_type": "uplaod", "precursors": ["fetch"]},
                    {"key": "notify", "task_type": "noop", "precursors": ["upload"]},
                ],
            }
        )
        self.keys["hostile"] = self.store.create_flow(
            {
                "key": "hostile",
                "label": HOSTILE_LABEL,
                "tasks": [{"key": "x", "task_type": "noop", "label": HOSTILE_LABEL}],
            }
        )
        self.keys["sweep"] = self.store.create_flow(_job_spec(self.gate))
        self.run_until(
            lambda: all(
                self.status(k) in ("COMPLETED", "FAILED") for k in ("done", "broken", "hostile")
            )
        )
        self.run_until(self._sweep_jobs_started)
        self.tick()  # the runner sees the jobs RUNNING
        self.keys["pending"] = self.store.create_flow(
            {
                "key": "pending",
                "label": "pending",
                "tasks": [{"key": "later", "task_type": "noop"}],
            }
        )

    def _sweep_jobs_started(self) -> bool:
        outputs = list(self.jobs_root.rglob("stdout.txt"))
        return len(outputs) == len(SWEEP_VALUES) and all(
            path.read_text().strip() for path in outputs
        )

    def status(self, name: str) -> str:
        """The stored status of the flow ``name``."""
        return self.store.get_record(self.keys[name]).status

    def tick(self) -> None:
        """One round of the runner."""
        self.runner.tick()

    def run_until(self, condition: Any, timeout_s: float = 60.0) -> None:
        """Tick until ``condition()`` holds (local jobs are real processes: this waits for them)."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"the demo store did not get there within {timeout_s} s")
            self.tick()
            time.sleep(0.05)

    def open_gate(self) -> None:
        """Let the sweep's jobs finish."""
        self.gate.write_text("go")

    def close(self) -> None:
        """Let every job end, and close the store."""
        self.open_gate()
        self.engine.close()
        self.store.close()


def require_ui_extra() -> None:
    """Skip the calling test module without the ui extra (Starlette, uvicorn); with CI=true, fail it."""
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if not missing:
        return
    reason = (
        f"the ui extra is not installed ({', '.join(missing)} missing): pip install -e '.[test]'"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def demo_store(tmp_path: Path) -> Iterator[DemoStore]:
    """A :class:`DemoStore`, built; its jobs end when the test does."""
    demo = DemoStore(tmp_path)
    try:
        demo.build()
        yield demo
    finally:
        demo.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UiServer:
    """``mc ui`` running as a subprocess; ``url`` is its base URL."""

    def __init__(self, db_url: str, logs_root: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - the server's output, closed by stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mc",
                "ui",
                "--db",
                db_url,
                "--port",
                str(self.port),
                "--logs-root",
                str(logs_root),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/api/flows", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"mc ui did not start: {log_path.read_text()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def ui_server(demo_store: DemoStore, tmp_path: Path) -> Iterator[UiServer]:
    """``mc ui`` serving the demo store on a free port of 127.0.0.1."""
    server = UiServer(demo_store.db_url, demo_store.logs_root, tmp_path / "mc-ui.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium driven by Selenium through the system chromedriver (no downloads)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        service_missing("selenium is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    driver_path = shutil.which("chromedriver") or (
        CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else None
    )
    if chromium is None or driver_path is None:
        service_missing(
            "Chromium or chromedriver is not installed (scripts/start_test_services.sh installs "
            "Debian's chromium and chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1100",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Any]:
    """The session's Chromium, on a blank page with an empty console log, and left on one.

    A page left open would go on polling a server that has stopped, and its
    errors would reach the next test's console log.
    """
    chromium.get("about:blank")
    chromium.get_log("browser")
    yield chromium
    chromium.get("about:blank")
    chromium.get_log("browser")


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    """Where tests save screenshots: ``$MC_TEST_ARTIFACTS`` if set, else the test's tmp dir."""
    root = os.environ.get("MC_TEST_ARTIFACTS")
    path = Path(root) if root else tmp_path / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
