"""Missing services: a test skips with a reason, or fails when CI=true."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import service_missing


def test_missing_service_skips_the_test_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no SLURM here"):
        service_missing("no SLURM here")


def test_missing_service_fails_the_test_when_ci_is_true(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no SLURM here"):
        service_missing("no SLURM here")
