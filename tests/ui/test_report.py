"""``mc report KEY -o flow.html``: the flow page as one self-contained file, checked as text and in Chromium."""

from __future__ import annotations

import json
import re

import pytest

from mc.cli import main
from mc.ui.report import script_json
from tests.ui.conftest import HOSTILE_LABEL


def test_report_is_written_with_its_own_content_security_policy(demo_store, tmp_path, capsys):
    output = tmp_path / "flow.html"
    assert (
        main(
            [
                "report",
                "swe",
                "--db",
                demo_store.db_url,
                "-o",
                str(output),
                "--logs-root",
                str(demo_store.logs_root),
            ]
        )
        == 0
    )
    html = output.read_text()
    assert '<meta http-equiv="Content-Security-Policy"' in html
    assert "script-src 'sha256-" in html and "unsafe-inline" not in html
    assert "/static/" not in html  # nothing to fetch
    data = json.loads(
        re.search(
            r'<script type="application/json" id="mc-report">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["flow"]["key"] == "sweep"
    stdout = [
        source
        for source in data["logs"]["sweep/evaluate_0"]["sources"]
        if source["name"] == "stdout"
    ]
    assert stdout[0]["text"] == "item alpha working\n"
    assert "wrote" in capsys.readouterr().err


def test_report_data_cannot_end_its_script_element(demo_store, tmp_path):
    output = tmp_path / "hostile.html"
    assert main(["report", "hostile", "--db", demo_store.db_url, "-o", str(output)]) == 0
    html = output.read_text()
    assert HOSTILE_LABEL not in html
    assert "\\u003cscript\\u003ewindow.__mc_xss" in html


def test_script_json_escapes_what_html_would_read():
    text = script_json({"a": "</script><!--\u2028&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!--\u2028&"}


def test_report_of_an_unknown_key_is_bad_input(demo_store, tmp_path, capsys):
    assert main(["report", "nope", "--db", demo_store.db_url, "-o", str(tmp_path / "x.html")]) == 2
    assert "no flow with key or key prefix 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


@pytest.fixture
def report_file(demo_store, tmp_path):
    def write(key):
        output = tmp_path / f"{key}.html"
        assert (
            main(
                [
                    "report",
                    key,
                    "--db",
                    demo_store.db_url,
                    "-o",
                    str(output),
                    "--logs-root",
                    str(demo_store.logs_root),
                ]
            )
            == 0
        )
        return output.as_uri()

    return write


def test_report_shows_the_flow_in_a_browser_without_a_server(browser, report_file, artifacts_dir):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(report_file("sweep"))
    WebDriverWait(browser, 20).until(
        lambda b: b.find_elements("css selector", "#tasks tr[data-path]")
    )
    statuses = browser.execute_script(
        "return Array.from(document.querySelectorAll('#tasks tr[data-path]')).map(r => [r.dataset.path, r.dataset.status])"
    )
    assert statuses == [
        ["sweep", "RUNNING"],
        ["sweep/evaluate_0", "RUNNING"],
        ["sweep/evaluate_1", "RUNNING"],
        ["sweep/evaluate_2", "RUNNING"],
        ["summary", "PENDING"],
    ]
    assert browser.find_elements("css selector", "#graph svg g.node")
    browser.find_element(
        "css selector", "tr[data-path='sweep/evaluate_1'] button.task-name"
    ).click()
    log = WebDriverWait(browser, 20).until(
        lambda b: b.find_elements("css selector", "pre.log[data-source='stdout']")
    )
    assert log[0].text == "item beta working"
    browser.save_screenshot(str(artifacts_dir / "report.png"))


def test_a_script_label_in_a_report_is_text_and_never_runs(browser, report_file):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(report_file("hostile"))
    WebDriverWait(browser, 20).until(
        lambda b: b.find_element("id", "flow-label").text == HOSTILE_LABEL
    )
    assert browser.execute_script("return window.__mc_xss") is None
    assert (
        browser.execute_script("return document.querySelectorAll('main img, main script').length")
        == 0
    )
