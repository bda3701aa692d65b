"""Regenerate docs/images/ui_flow_page.png, the screenshot of ``mc ui`` in docs/ui.rst.

Run from the repository root, with the test extra installed and Debian's
``chromium`` and ``chromium-driver`` (scripts/start_test_services.sh
installs them)::

    python docs/make_ui_screenshot.py

It stores a small sweep in a fresh SQLite file (a spread of four local
jobs: two done, two still running and printing), serves it
with ``mc ui`` on a free port of 127.0.0.1, opens the flow page in headless
Chromium with the running item's output shown, and saves the screenshot.
Nothing is downloaded; the jobs end when the script does.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from mc.flows import FlowEngine
from mc.flows.task_logs import TaskLogs
from mc.jobs.executors.local import LocalExecutor
from mc.jobs.job_modules import JobTypeRegistry
from mc.runner import FlowRunner
from mc.store import FlowStore

OUTPUT = Path(__file__).resolve().parent / "images" / "ui_flow_page.png"
WINDOW = (1280, 1760)


class FitJob:
    """A job module whose job runs ``job_params['command']`` in its work dir."""

    @staticmethod
    def build_work_dir(params: dict[str, Any], output_dir: str) -> dict[str, Any]:
        (Path(output_dir) / "x").write_text(str(params["x"]))
        return {"entrypoint": params["command"], "config_spec": {}, "resources": {}}

    @staticmethod
    def parse_work_dir(work_dir: str) -> dict[str, Any]:
        return {}


def sweep_spec(gate: Path) -> dict[str, Any]:
    """Four fits: x=3 and x=4 print, then wait for ``gate``; the others finish."""
    command = (
        'x=$(cat x); echo "fitting x=$x"; echo "iteration 1: loss 0.82"; '
        f'if [ "$x" -ge 3 ]; then echo "iteration 2: loss 0.41"; echo "iteration 3: loss 0.23"; '
        f"while [ ! -e {gate} ]; do sleep 0.1; done; fi; "
        'echo "converged"'
    )
    return {
        "key": "3f9c2a71-sweep-demo",
        "label": "fit_sweep",
        "data": {"xs": [1, 2, 3, 4]},
        "tasks": [
            {"key": "prepare", "task_type": "noop"},
            {
                "key": "fits",
                "task_type": "spread",
                "precursors": ["prepare"],
                "task_params": {
                    "items": "$ctx.flow.data.xs",
                    "mapping_params": {
                        "skeleton": {
                            "key": "fit",
                            "task_type": "job",
                            "task_params": {"job_type": "fit", "job_params": {"command": command}},
                        },
                        "wirings": ["ctx.item.value => task_params.job_params.x"],
                    },
                },
            },
            {"key": "compare", "task_type": "noop", "precursors": ["fits"]},
            {"key": "publish", "task_type": "noop", "precursors": ["compare"]},
        ],
    }


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_demo(root: Path) -> tuple[FlowStore, FlowEngine, str, str]:
    """Store the demo flows under ``root`` and tick until two fits are done and two running.

    Returns the store, the engine (whose executor runs the jobs), the
    database URL and the sweep's key.
    """
    db_url = f"sqlite:///{root / 'demo.db'}"
    store = FlowStore(db_url)
    engine = FlowEngine(task_output=TaskLogs(root / "logs"))
    engine.register_executor("local", LocalExecutor(max_jobs=4), replace=True)
    runner = FlowRunner(
        store,
        engine,
        poll_interval_s=0.0,
        task_ctx={"job_types": JobTypeRegistry({"fit": FitJob}), "jobs_root": str(root / "jobs")},
    )
    store.create_flow(
        {
            "key": "8d41e0c2-calibration",
            "label": "calibration",
            "tasks": [{"key": "measure", "task_type": "noop"}],
        }
    )
    key = store.create_flow(sweep_spec(root / "gate"))
    deadline = time.monotonic() + 60
    while True:
        runner.tick()
        tasks = store.get_flow(key).to_flow_dict()["tasks"]["fits"]
        items = tasks.get("proxied_task", {}).get("data", {}).get("flow", {}).get("tasks", {})
        statuses = sorted(task["status"] for task in items.values())
        if statuses == ["COMPLETED", "COMPLETED", "RUNNING", "RUNNING"]:
            return store, engine, db_url, key
        if time.monotonic() > deadline:
            raise SystemExit(f"the demo flow did not get there: {statuses}")
        time.sleep(0.1)


def take_screenshot(url: str) -> None:
    """Open ``url`` in headless Chromium and save the screenshot to :data:`OUTPUT`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(
        options=options, service=Service(executable_path="/usr/bin/chromedriver")
    )
    try:
        browser.get(url)
        WebDriverWait(browser, 20).until(
            lambda b: (
                b.find_elements("css selector", "pre.log[data-source='stdout']")
                and b.find_elements("css selector", "#graph svg")
            )
        )
        time.sleep(0.5)
        browser.execute_script("window.scrollTo(0, 0)")
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(OUTPUT))
    finally:
        browser.quit()


def main() -> int:
    """Build the store, serve it, take the screenshot."""
    root = Path(tempfile.mkdtemp(prefix="mc-ui-screenshot-"))
    store, engine, db_url, key = build_demo(root)
    port = free_port()
    command = ["mc", "ui", "--db", db_url, "--port", str(port), "--logs-root", str(root / "logs")]
    server = subprocess.Popen([sys.executable, "-m", *command])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/flows", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        take_screenshot(f"http://127.0.0.1:{port}/flows/{key}#task=fits%2Ffit_3")
    finally:
        server.terminate()
        server.wait(10)
        (root / "gate").write_text("go")  # the jobs end
        engine.close()
        store.close()
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
