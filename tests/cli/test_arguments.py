"""Argument types of the ``mc`` commands: durations."""

from __future__ import annotations

import argparse

import pytest

from mc.cli import main
from mc.cli.arguments import duration_type, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1.5", 1.5),
        ("0.5m", 30),
        ("90", 90),
        (" 2H ", 7200),
        ("0", 0),
    ],
)
def test_durations_take_a_unit_or_are_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "m", "5x", "-1", "1 5m", "1h 30m", "nan", "inf", "1e3", "5mm", "1.5.2"]
)
def test_a_malformed_duration_says_what_was_expected(text):
    with pytest.raises(ValueError, match="expected a duration such as 30s, 5m, 2h"):
        parse_duration(text)


def test_a_duration_below_the_minimum_is_refused():
    positive = duration_type(0.0, inclusive=False)
    with pytest.raises(argparse.ArgumentTypeError, match="more than 0s, got 0s"):
        positive("0s")
    assert positive("1m") == 60


def test_runner_durations_take_units(capsys, tmp_path):
    code = main(
        [
            "runner",
            "--db",
            f"sqlite:///{tmp_path / 'mc.db'}",
            "--once",
            "--lease",
            "5m",
            "--interval",
            "1s",
            "--poll",
            "0",
        ]
    )
    assert code == 0


def test_a_bad_duration_option_exits_2_naming_the_option(capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        main(["ls", "--db", f"sqlite:///{tmp_path / 'mc.db'}", "--since", "2 hours"])
    assert caught.value.code == 2
    assert "argument --since: expected a duration" in capsys.readouterr().err
