"""The JSON API and the pages of ``mc ui``, through an HTTP client (Starlette's TestClient)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.ui.conftest import require_ui_extra  # noqa: E402

require_ui_extra()
from starlette.testclient import TestClient  # noqa: E402

from mc.flows.graph import STATUS_COLOURS  # noqa: E402
from mc.store import FlowStore  # noqa: E402
from mc.ui.app import CONTENT_SECURITY_POLICY, create_app  # noqa: E402
from tests.ui.conftest import HOSTILE_LABEL, SWEEP_VALUES, DemoStore  # noqa: E402


@pytest.fixture
def store(db_url: str):
    """A new store: a SQLite file, then a PostgreSQL schema."""
    with FlowStore(db_url) as store:
        yield store


@pytest.fixture
def client(store):
    return TestClient(create_app(store), base_url="http://127.0.0.1")


@pytest.fixture
def demo_client(demo_store: DemoStore):
    with FlowStore(demo_store.db_url) as store:
        yield TestClient(
            create_app(store, logs_root=str(demo_store.logs_root)), base_url="http://127.0.0.1"
        )


def noop_flow(key, label=None, tasks=1):
    spec = {"key": key, "tasks": [{"key": f"t{n}", "task_type": "noop"} for n in range(tasks)]}
    if label is not None:
        spec["label"] = label
    return spec


class StepClock:
    """Creation times a second apart."""

    def __init__(self) -> None:
        self.now = time.time() - 1000

    def __call__(self) -> float:
        self.now += 1
        return self.now


# -- GET /api/flows --------------------------------------------------------------


def test_flow_list_is_newest_first_with_counts_by_status(tmp_path):
    with FlowStore(f"sqlite:///{tmp_path / 'list.db'}", clock=StepClock()) as store:
        for number in range(3):
            store.create_flow(noop_flow(f"flow-{number}"))
        answer = TestClient(create_app(store), base_url="http://127.0.0.1").get("/api/flows").json()
    assert [flow["key"] for flow in answer["flows"]] == ["flow-2", "flow-1", "flow-0"]
    assert answer["counts"] == {"PENDING": 3, "RUNNING": 0, "COMPLETED": 0, "FAILED": 0}
    assert answer["more"] is False


def test_flow_list_shows_every_status_of_the_demo_store(demo_client, demo_store):
    answer = demo_client.get("/api/flows").json()
    statuses = {flow["key"]: flow["status"] for flow in answer["flows"]}
    assert statuses == {
        "pending": "PENDING",
        "sweep": "RUNNING",
        "done": "COMPLETED",
        "hostile": "COMPLETED",
        "broken": "FAILED",
    }
    assert answer["counts"] == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 2, "FAILED": 1}


def test_flow_list_filters_by_status_and_label_glob(client, store):
    store.create_flow(noop_flow("a", label="sweep-1"))
    store.create_flow(noop_flow("b", label="sweep-2"))
    store.create_flow(noop_flow("c", label="other"))
    keys = lambda answer: sorted(flow["key"] for flow in answer.json()["flows"])  # noqa: E731
    assert keys(client.get("/api/flows", params={"label": "sweep-*"})) == ["a", "b"]
    assert keys(client.get("/api/flows", params={"status": "PENDING", "label": "oth?r"})) == ["c"]
    assert keys(client.get("/api/flows", params={"status": "FAILED"})) == []


def test_flow_list_pages_with_limit_and_offset(client, store):
    for number in range(5):
        store.create_flow(noop_flow(f"f{number}"))
    first = client.get("/api/flows", params={"limit": 2}).json()
    second = client.get("/api/flows", params={"limit": 2, "offset": 2}).json()
    assert len(first["flows"]) == 2 and first["more"] is True
    assert not {f["key"] for f in first["flows"]} & {f["key"] for f in second["flows"]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "DONE"}, "status: expected one of"),
        ({"limit": "many"}, "limit: expected a whole number"),
        ({"limit": "0"}, "limit: expected a number from 1"),
        ({"colour": "red"}, "unknown query parameter 'colour'"),
    ],
)
def test_flow_list_refuses_bad_filters_saying_what_was_expected(client, params, message):
    response = client.get("/api/flows", params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]


# -- GET /api/flows/{key} ------------------------------------------------------------


def test_flow_is_found_by_a_unique_key_prefix(client, store):
    store.create_flow(noop_flow("236f41ea"))
    answer = client.get("/api/flows/236f").json()
    assert answer["key"] == "236f41ea"
    assert [task["path"] for task in answer["tree"]["tasks"]] == ["t0"]


def test_ambiguous_key_prefix_is_a_conflict_listing_candidates(client, store):
    store.create_flow(noop_flow("ab1"))
    store.create_flow(noop_flow("ab2"))
    response = client.get("/api/flows/ab")
    assert response.status_code == 409
    assert "ab1" in response.json()["error"] and "ab2" in response.json()["error"]


def test_unknown_flow_is_not_found_and_the_message_names_no_database(client, store, db_url):
    response = client.get("/api/flows/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "no flow with key or key prefix 'nope'"}
    assert "sqlite" not in response.text and "postgresql" not in response.text


def test_a_key_with_a_slash_is_sent_percent_encoded(client, store):
    store.create_flow(noop_flow("lab/run 1"))
    assert client.get("/api/flows/lab%2Frun%201").json()["key"] == "lab/run 1"
    assert client.get("/api/flows/lab%2Frun%201/tasks/t0/log").status_code == 200


def test_flow_shows_spread_items_with_their_jobs(demo_client, demo_store):
    answer = demo_client.get("/api/flows/sweep").json()
    assert answer["status"] == "RUNNING"
    sweep = answer["tree"]["tasks"][0]
    assert sweep["path"] == "sweep" and sweep["subflow_key"] == "sweep.sweep"
    items = sweep["children"]
    assert [item["path"] for item in items] == [
        f"sweep/evaluate_{n}" for n in range(len(SWEEP_VALUES))
    ]
    for item in items:
        assert item["status"] == "RUNNING" and item["attempts"] == 1 and item["executor"] == "local"
        assert Path(item["job_dir"]).is_relative_to(demo_store.jobs_root)
    assert answer["task_counts"] == {"RUNNING": 4, "PENDING": 1}


def test_failed_flow_shows_the_error_and_the_skipped_task(demo_client):
    answer = demo_client.get("/api/flows/broken").json()
    by_path = {task["path"]: task for task in answer["tree"]["tasks"]}
    assert by_path["upload"]["status"] == "FAILED"
    assert "unknown task_type 'uplaod'" in by_path["upload"]["error"]
    assert by_path["notify"]["status"] == "SKIPPED"


def test_flow_svg_colours_each_task_by_status(demo_client):
    svg = demo_client.get("/api/flows/broken").json()["graph"]["svg"]
    for key, status in (("fetch", "COMPLETED"), ("upload", "FAILED"), ("notify", "SKIPPED")):
        node = svg[svg.index(f">{key}</text>") - 600 : svg.index(f">{key}</text>")]
        assert f'fill="{STATUS_COLOURS[status]}"' in node, key


def test_flow_svg_shows_a_hostile_label_as_escaped_text_only(demo_client):
    svg = demo_client.get("/api/flows/hostile").json()["graph"]["svg"]
    root = ElementTree.fromstring(svg)
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert tags <= {"svg", "g", "title", "path", "polygon", "text"}
    assert "<script" not in svg and "<img" not in svg
    assert any(HOSTILE_LABEL in (element.text or "") for element in root.iter())


def test_graph_0_leaves_the_svg_out(demo_client):
    assert "graph" not in demo_client.get("/api/flows/done", params={"graph": "0"}).json()


def test_unchanged_flow_answers_not_modified_to_its_etag(demo_client):
    first = demo_client.get("/api/flows/done")
    again = demo_client.get("/api/flows/done", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_etag_changes_when_a_runner_saves_the_flow(demo_client, demo_store):
    before = demo_client.get("/api/flows/sweep").headers["ETag"]
    demo_store.open_gate()
    demo_store.run_until(lambda: demo_store.status("sweep") == "COMPLETED")
    after = demo_client.get("/api/flows/sweep", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before
    assert after.json()["status"] == "COMPLETED"


# -- GET /api/flows/{key}/tasks/{task_path}/log ---------------------------------------------


def test_task_log_shows_the_task_log_then_the_jobs_stdout_and_stderr(demo_client, demo_store):
    answer = demo_client.get("/api/flows/sweep/tasks/sweep/evaluate_1/log").json()
    assert answer["task_path"] == "sweep/evaluate_1" and answer["task_status"] == "RUNNING"
    assert answer["available"] == ["log", "stdout", "stderr"]
    sources = {source["name"]: source for source in answer["sources"]}
    assert sources["log"]["path"] == str(
        demo_store.logs_root / "sweep" / "sweep" / "evaluate_1.log"
    )
    assert sources["stdout"]["text"] == "item beta working\n"
    assert sources["stderr"]["exists"] and sources["stderr"]["text"] == ""


def test_task_log_of_a_local_job_has_no_scheduler_source(demo_client):
    answer = demo_client.get("/api/flows/sweep/tasks/sweep/evaluate_1/log?source=scheduler")
    assert answer.status_code == 200
    assert (answer.json()["sources"], "scheduler" in answer.json()["available"]) == ([], False)


def test_task_log_refuses_an_unknown_source_naming_the_four_it_takes(demo_client):
    answer = demo_client.get("/api/flows/sweep/tasks/sweep/evaluate_1/log?source=slurm")
    assert answer.status_code == 400
    assert "expected one of log, stdout, stderr, scheduler, got 'slurm'" in answer.text


def test_task_log_shows_what_a_task_printed(demo_client):
    answer = demo_client.get("/api/flows/done/tasks/b/log").json()
    assert answer["available"] == ["log"]
    assert answer["sources"][0]["label"] == "task log"
    assert answer["sources"][0]["text"] == "hello from b\n"


def test_task_log_shows_the_same_files_as_mc_logs(demo_client, demo_store, capsys):
    from mc.cli import main

    assert (
        main(
            [
                "logs",
                "sweep",
                "sweep/evaluate_2",
                "--db",
                demo_store.db_url,
                "--logs-root",
                str(demo_store.logs_root),
            ]
        )
        == 0
    )
    shown = capsys.readouterr().out
    answer = demo_client.get("/api/flows/sweep/tasks/sweep/evaluate_2/log").json()
    for source in answer["sources"]:
        if source["text"]:
            assert source["text"].strip() in shown


def test_a_large_log_is_tailed_then_paged_back_in_whole_lines(demo_client, demo_store):
    stdout = next(demo_store.jobs_root.rglob("evaluate_0/stdout.txt"))
    with open(stdout, "a") as file:
        for number in range(20000):
            file.write(f"line {number}\n")
    url = "/api/flows/sweep/tasks/sweep/evaluate_0/log"
    tail = demo_client.get(url, params={"source": "stdout"}).json()["sources"][0]
    assert tail["end"] == tail["size"] == stdout.stat().st_size
    assert tail["end"] - tail["start"] <= 64 * 1024
    assert tail["text"].endswith("line 19999\n") and tail["text"].startswith("line ")
    earlier = demo_client.get(
        url, params={"source": "stdout", "end": tail["start"], "max_bytes": 100}
    ).json()
    page = earlier["sources"][0]
    assert page["end"] == tail["start"] and page["end"] - page["start"] <= 100
    last_before = int(tail["text"].split("\n", 1)[0].split()[1]) - 1
    assert page["text"].endswith(f"line {last_before}\n") and page["text"].startswith("line ")


def test_task_log_of_an_unknown_task_is_not_found(demo_client):
    response = demo_client.get("/api/flows/sweep/tasks/sweep/evaluate_9/log")
    assert response.status_code == 404
    assert response.json()["error"] == "flow 'sweep' has no task 'sweep/evaluate_9'"


def test_task_log_refuses_a_page_larger_than_a_megabyte(demo_client):
    response = demo_client.get(
        "/api/flows/sweep/tasks/sweep/evaluate_0/log", params={"max_bytes": 10**7}
    )
    assert response.status_code == 400 and "max_bytes" in response.json()["error"]


def test_task_log_reads_no_dir_that_mc_did_not_build(client, store, tmp_path):
    # A job dir recorded in a stored flow is read only if it holds mc's job.json.
    secret = tmp_path / "not_a_job"
    secret.mkdir()
    (secret / "stdout.txt").write_text("secret")
    from mc.flows import Flow

    flow = Flow.from_flow_spec(noop_flow("f"))
    flow.tasks["t0"]["data"]["job_dir"] = str(secret)
    store.create_flow(flow)
    assert client.get("/api/flows/f/tasks/t0/log").json()["available"] == ["log"]


# -- the app as a whole -------------------------------------------------------------------


def test_pages_and_api_carry_a_strict_content_security_policy(client, store):
    store.create_flow(noop_flow("f"))
    for path in ("/", "/flows/f", "/api/flows", "/api/flows/f", "/static/flow.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        "script-src 'self'" in CONTENT_SECURITY_POLICY
        and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_nothing_can_be_changed_through_the_app(client, store, method):
    store.create_flow(noop_flow("f"))
    for path in ("/api/flows", "/api/flows/f", "/api/flows/f/tasks/t0/log"):
        assert client.request(method, path).status_code == 405
    assert store.get_record("f").version == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_requests_for_this_machine_are_answered(store, host):
    assert (
        TestClient(create_app(store), base_url=f"http://{host}:8765").get("/api/flows").status_code
        == 200
    )


def test_a_request_for_another_host_is_refused(store):
    # DNS rebinding: a web site whose name resolves to 127.0.0.1 cannot read the page.
    response = TestClient(create_app(store), base_url="http://evil.example").get("/api/flows")
    assert response.status_code == 400


def test_a_failing_database_gives_503_without_its_url(tmp_path):
    path = tmp_path / "broken.db"
    store = FlowStore(f"sqlite:///{path}")
    store.create_flow(noop_flow("f"))
    store.close()
    client = TestClient(create_app(store), base_url="http://127.0.0.1")
    path.write_bytes(b"this is no database" * 100)
    response = client.get("/api/flows")
    assert response.status_code == 503
    assert str(tmp_path) not in response.text and "sqlite" not in response.text
    json.loads(response.text)


def test_a_failing_postgresql_store_gives_503_without_its_url_or_password(
    postgres_url, postgres_server_url
):
    import sqlalchemy as sa

    url = sa.make_url(postgres_url)
    schema = url.query["options"].split("=", 1)[1]
    with FlowStore(postgres_url) as store:
        store.create_flow(noop_flow("f"))
        client = TestClient(create_app(store), base_url="http://127.0.0.1")
        assert client.get("/api/flows/f").status_code == 200
        admin = sa.create_engine(postgres_server_url)
        try:
            with admin.begin() as connection:  # the table is gone, as if dropped by mistake
                connection.execute(
                    sa.text(f'ALTER TABLE "{schema}".mc_flows RENAME TO mc_flows_gone')
                )
            for path in ("/api/flows", "/api/flows/f", "/api/flows/f/tasks/t0/log"):
                response = client.get(path)
                assert response.status_code == 503, path
                assert response.json() == {
                    "error": "the flow store cannot be read right now; the server's log says why"
                }
        finally:
            admin.dispose()


def test_a_flow_whose_json_cannot_be_loaded_still_shows_its_record(client, store, db_url):
    import sqlalchemy as sa

    store.create_flow(noop_flow("f", label="broken json"))
    engine = sa.create_engine(db_url)  # the test breaks the row on purpose
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE mc_flows SET flow_json = '{not json' WHERE key = 'f'"))
    engine.dispose()
    answer = client.get("/api/flows/f").json()
    assert answer["label"] == "broken json" and answer["tree"] is None
    assert "does not parse" in answer["load_error"]
    assert answer["graph"] == {"svg": None, "error": "the stored flow cannot be loaded"}
    assert client.get("/api/flows/f/tasks/t0/log").status_code == 409
