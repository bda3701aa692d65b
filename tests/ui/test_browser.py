"""``mc ui`` in a real browser: a real server (``mc ui`` as a subprocess) and headless Chromium."""

from __future__ import annotations

from tests.ui.conftest import require_ui_extra  # noqa: E402

require_ui_extra()

from mc.flows.graph import STATUS_COLOURS  # noqa: E402
from tests.ui.conftest import HOSTILE_LABEL, SWEEP_VALUES  # noqa: E402

WAIT_S = 20


def wait_for(browser, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S, poll_frequency=0.1).until(condition, message)


def rows(browser, selector):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map("
        "  row => [row.getAttribute('data-key') || row.getAttribute('data-path'), row.getAttribute('data-status'),"
        "          row.textContent])",
        selector,
    )


def texts(browser, selector):
    """The text of each element that ``selector`` matches, read at one moment (the page redraws itself)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText.trim())",
        selector,
    )


def console_errors(browser):
    """What the page logged as errors: failed requests, script errors, Content-Security-Policy refusals."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def task_status(browser, path):
    return browser.execute_script(
        "const row = document.querySelector(`#tasks tr[data-path='${arguments[0]}']`);"
        "return row ? row.getAttribute('data-status') : null;",
        path,
    )


def test_flow_list_shows_every_flow_with_counts(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/")
    listed = wait_for(
        browser,
        lambda b: (
            rows(b, "#flows tbody tr[data-key]")
            if len(rows(b, "#flows tbody tr[data-key]")) == 5
            else None
        ),
        "the list did not show five flows",
    )
    assert [key for key, _, _ in listed] == ["pending", "sweep", "hostile", "broken", "done"]
    counts = browser.execute_script(
        "return Array.from(document.querySelectorAll('#counts [data-count]')).map(b => b.textContent)"
    )
    assert counts == ["All 5", "PENDING 1", "RUNNING 1", "COMPLETED 2", "FAILED 1"]


def test_flow_list_filters_by_status(browser, ui_server, demo_store):
    from selenium.webdriver.support.ui import Select

    browser.get(ui_server.url + "/")
    wait_for(
        browser, lambda b: len(rows(b, "#flows tbody tr[data-key]")) == 5, "the list did not load"
    )
    Select(browser.find_element("id", "filter-status")).select_by_visible_text("FAILED")
    wait_for(
        browser,
        lambda b: [key for key, _, _ in rows(b, "#flows tbody tr[data-key]")] == ["broken"],
        "the status filter did not leave only the FAILED flow",
    )
    assert browser.current_url.endswith("/?status=FAILED")


def test_running_flow_page_updates_when_tasks_finish_without_reload(
    browser, ui_server, demo_store, artifacts_dir
):
    browser.get(ui_server.url + "/flows/sweep")
    wait_for(
        browser,
        lambda b: task_status(b, "sweep/evaluate_0") == "RUNNING",
        "the running task did not show",
    )
    browser.save_screenshot(str(artifacts_dir / "flow-page-running.png"))
    browser.execute_script(
        "window.mcSentinel = 'the same page'; document.body.setAttribute('data-sentinel', '1');"
    )

    demo_store.open_gate()
    demo_store.run_until(lambda: demo_store.status("sweep") == "COMPLETED")

    wait_for(
        browser,
        lambda b: all(
            task_status(b, f"sweep/evaluate_{n}") == "COMPLETED" for n in range(len(SWEEP_VALUES))
        ),
        "the page did not show the finished tasks",
    )
    wait_for(
        browser,
        lambda b: task_status(b, "summary") == "COMPLETED",
        "the page did not show the last task",
    )
    assert browser.execute_script("return window.mcSentinel") == "the same page"
    assert browser.find_element("css selector", "body").get_attribute("data-sentinel") == "1"
    wait_for(
        browser,
        lambda b: texts(b, "#title .badge") == ["COMPLETED"],
        "the flow's status did not change",
    )
    browser.save_screenshot(str(artifacts_dir / "flow-page-completed.png"))
    assert (artifacts_dir / "flow-page-completed.png").stat().st_size > 10_000
    assert console_errors(browser) == []


def test_dag_shows_each_task_in_its_status_colour(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/flows/broken")
    wait_for(
        browser,
        lambda b: b.find_elements("css selector", "#graph svg g.node"),
        "the DAG did not show",
    )
    fills = browser.execute_script(
        "const fills = {};"
        "for (const node of document.querySelectorAll('#graph svg g.node')) {"
        "  const shape = node.querySelector('path, polygon');"
        "  fills[node.querySelector('text').textContent] = shape.getAttribute('fill');"
        "}"
        "return fills;"
    )
    assert fills == {
        "fetch": STATUS_COLOURS["COMPLETED"],
        "upload": STATUS_COLOURS["FAILED"],
        "notify": STATUS_COLOURS["SKIPPED"],
    }
    size = browser.execute_script(
        "const box = document.querySelector('#graph svg').getBoundingClientRect(); return [box.width, box.height];"
    )
    assert size[0] > 100 and size[1] > 100


def test_running_spread_items_are_drawn_running(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/flows/sweep")
    wait_for(
        browser,
        lambda b: b.find_elements("css selector", "#graph svg g.node"),
        "the DAG did not show",
    )
    fills = browser.execute_script(
        "return Array.from(document.querySelectorAll('#graph svg g.node')).map("
        "  node => [node.querySelector('text').textContent, node.querySelector('path, polygon').getAttribute('fill')])"
    )
    assert sorted(fills) == [
        [f"evaluate_{n}", STATUS_COLOURS["RUNNING"]] for n in range(len(SWEEP_VALUES))
    ] + [["summary", STATUS_COLOURS["PENDING"]]]


def test_a_tasks_output_shows_when_it_is_picked(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/flows/sweep")
    wait_for(
        browser, lambda b: task_status(b, "sweep/evaluate_2") == "RUNNING", "the tasks did not show"
    )
    browser.find_element(
        "css selector", "#tasks tr[data-path='sweep/evaluate_2'] button.task-name"
    ).click()
    wait_for(
        browser,
        lambda b: texts(b, "#log-body pre.log[data-source='stdout']") == ["item gamma working"],
        "the task's output did not show",
    )
    assert texts(browser, "#log-task") == ["sweep/evaluate_2"]
    assert browser.current_url.endswith("#task=sweep%2Fevaluate_2")


def test_a_tasks_output_follows_the_job(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/flows/sweep#task=sweep%2Fevaluate_0")
    wait_for(
        browser,
        lambda b: texts(b, "pre.log[data-source='stdout']") == ["item alpha working"],
        "the output of the task named in the URL did not show",
    )
    demo_store.open_gate()
    demo_store.run_until(lambda: demo_store.status("sweep") == "COMPLETED")
    wait_for(
        browser,
        lambda b: (
            texts(b, "pre.log[data-source='stdout']") == ["item alpha working\nitem alpha done"]
        ),
        "the output did not follow the job",
    )


def test_a_script_in_a_label_is_shown_as_text_and_never_runs(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/flows/hostile")
    wait_for(
        browser,
        lambda b: texts(b, "#flow-label") == [HOSTILE_LABEL],
        "the label did not show as text",
    )
    assert texts(browser, "#tasks tr[data-path='x'] .task-label") == [HOSTILE_LABEL]
    svg_text = browser.execute_script("return document.querySelector('#graph svg').textContent")
    assert HOSTILE_LABEL in svg_text
    assert browser.execute_script("return window.__mc_xss") is None
    assert (
        browser.execute_script("return document.querySelectorAll('main img, main script').length")
        == 0
    )
    assert console_errors(browser) == []
    browser.get(ui_server.url + "/")
    wait_for(
        browser,
        lambda b: texts(b, "tr[data-key='hostile'] td.label") == [HOSTILE_LABEL],
        "the label did not show as text in the list",
    )
    assert browser.execute_script("return window.__mc_xss") is None
    assert (
        browser.execute_script("return document.querySelectorAll('main img, main script').length")
        == 0
    )


def test_what_a_task_printed_shows_from_its_task_log(browser, ui_server, demo_store):
    browser.get(ui_server.url + "/flows/done#task=b")
    wait_for(
        browser,
        lambda b: texts(b, "pre.log[data-source='log']") == ["hello from b"],
        "no task log shown",
    )
    assert "task log" in texts(browser, "#log-body")[0]


def test_a_task_from_the_cache_says_where_its_result_came_from(browser, tmp_path):
    from mc.flows import FlowEngine
    from mc.runner import FlowRunner
    from mc.store import FlowStore
    from tests.ui.conftest import UiServer

    db_url = f"sqlite:///{tmp_path / 'cached.db'}"
    spec = {"tasks": [{"key": "hello", "task_type": "print", "task_params": {"msg": "hi"}}]}
    spec["tasks"][0]["cache"] = True
    with FlowStore(db_url) as store:
        first = store.create_flow({**spec, "key": "first"})
        store.create_flow({**spec, "key": "second"})
        # One flow a round, so that the first one makes the entry the second one finds.
        runner = FlowRunner(
            store, FlowEngine(cache=store.task_cache()), batch_size=1, poll_interval_s=0.0
        )
        runner.run(until_done=True)
        assert store.get_flow("second").tasks["hello"].get("cached_from") is not None
    server = UiServer(db_url, tmp_path / "logs", tmp_path / "mc-ui.log")
    try:
        browser.get(server.url + "/flows/second")
        wait_for(
            browser,
            lambda b: texts(b, "#tasks tr[data-path='hello'] .cached-from") != [],
            "the cache hit did not show",
        )
        assert texts(browser, "#tasks tr[data-path='hello'] .cached-from") == [
            f"cached from {first}/hello"
        ]
        assert texts(browser, "#tasks tr[data-path='hello'] td.duration") == ["cached"]
        browser.get(server.url + "/flows/first")
        wait_for(browser, lambda b: task_status(b, "hello") == "COMPLETED", "no task showed")
        assert texts(browser, "#tasks tr[data-path='hello'] .cached-from") == []
    finally:
        server.stop()


def test_a_jobs_scheduler_log_shows_after_stderr_as_text(browser, tmp_path):
    """The scheduler log (``slurm-<job id>.out``) has its own section; its text never runs.

    A job can write into its own job dir, so that file is as untrusted as its
    stdout: here a local job writes one (beside its work dir) with HTML in it. (The real SLURM
    message is checked in tests/cli/test_logs_slurm.py.)
    """
    from mc.flows import FlowEngine
    from mc.flows.task_logs import TaskLogs
    from mc.jobs.job_modules import JobTypeRegistry
    from mc.runner import FlowRunner
    from mc.store import FlowStore
    from tests.jobs.conftest import ShellJob
    from tests.ui.conftest import UiServer

    db_url = f"sqlite:///{tmp_path / 'slurmish.db'}"
    hostile = '<img src=x onerror="window.__mc_xss = 3">'
    message = f"slurmstepd: error: *** JOB 42 ON vm CANCELLED AT 2026-01-01T00:00:00 *** {hostile}"
    command = f"echo working; printf '%s\\n' '{message}' > ../slurm-42.out"
    spec = {
        "key": "slurmish",
        "tasks": [
            {
                "key": "fit",
                "task_type": "job",
                "task_params": {
                    "job_type": "shell",
                    "executor": "local",
                    "job_params": {"command": command},
                },
            }
        ],
    }
    with FlowStore(db_url) as store:
        store.create_flow(spec)
        engine = FlowEngine(task_output=TaskLogs(tmp_path / "logs"))
        runner = FlowRunner(
            store,
            engine,
            task_ctx={
                "job_types": JobTypeRegistry({"shell": ShellJob}),
                "jobs_root": str(tmp_path / "jobs"),
            },
            poll_interval_s=0.0,
        )
        runner.run(until_done=True)
        engine.close()
        assert store.get_record("slurmish").status == "COMPLETED"
    server = UiServer(db_url, tmp_path / "logs", tmp_path / "mc-ui.log")
    try:
        browser.get(server.url + "/flows/slurmish#task=fit")
        wait_for(
            browser,
            lambda b: texts(b, "pre.log[data-source='scheduler']") == [message],
            "the scheduler log did not show",
        )
        sources = browser.execute_script(
            "return Array.from(document.querySelectorAll('#log-body pre.log'))"
            ".map(pre => pre.getAttribute('data-source'))"
        )
        assert sources == ["stdout", "stderr", "scheduler"]  # the job task printed no task log
        heads = texts(browser, "#log-body .log-head strong")
        assert heads[-1] == "scheduler log"
        assert browser.execute_script("return window.__mc_xss") is None
        assert browser.execute_script("return document.querySelectorAll('main img').length") == 0
        assert console_errors(browser) == []
    finally:
        server.stop()


def test_earlier_output_comes_before_the_tail_and_goes_when_the_file_is_replaced(
    browser, ui_server, demo_store
):
    """*Show earlier output* puts a file's earlier pages before its tail, for that file only.

    A running job's scheduler log is replaced by a newer submission's (a
    job submitted again into its job dir): the page shows the new file
    alone, not the old file's earlier pages in front of it.
    """
    import os
    from pathlib import Path

    from mc.flows.tree import build_flow_tree

    flow_dict = demo_store.store.get_flow(demo_store.keys["sweep"]).to_flow_dict()
    job_dir = Path(build_flow_tree(flow_dict).find("sweep/evaluate_0").job_dir)
    old_lines = [f"old submission line {i}" for i in range(6000)]  # about 150 KB: three pages
    old = job_dir / "slurm-5.out"
    old.write_text("\n".join(old_lines) + "\n")
    os.utime(old, (1_000_000, 1_000_000))
    browser.get(ui_server.url + "/flows/sweep#task=sweep%2Fevaluate_0")
    scheduler = "#log-body pre.log[data-source='scheduler']"
    wait_for(
        browser,
        lambda b: texts(b, scheduler) and texts(b, scheduler)[0].endswith(old_lines[-1]),
        "the scheduler log's tail did not show",
    )
    click_earlier = (
        "const head = Array.from(document.querySelectorAll('#log-body .log-head'))"
        "  .find(h => h.querySelector('strong').textContent === 'scheduler log');"
        "const button = head && head.querySelector('button.earlier');"
        "if (button) button.click();"
        "return Boolean(button);"
    )
    for _ in range(5):
        shown = texts(browser, scheduler)[0].splitlines()
        if shown[0] == old_lines[0]:
            break
        assert browser.execute_script(click_earlier), "no 'Show earlier output' button"
        count = len(shown)
        wait_for(
            browser,
            lambda b, count=count: len(texts(b, scheduler)[0].splitlines()) > count,
            "no earlier output came",
        )
    assert texts(browser, scheduler)[0].splitlines() == old_lines
    # The job is submitted again: the newer submission's log replaces the old one.
    (job_dir / "slurm-6.out").write_text("new submission started\n")
    wait_for(
        browser,
        lambda b: texts(b, scheduler) == ["new submission started"],
        "the new scheduler log did not show alone",
    )
    assert console_errors(browser) == []
