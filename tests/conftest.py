"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

from mc.flows import FlowEngine


class FakeClock:
    """A clock the tests move by hand: no test sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock, starting at a fixed epoch time."""
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> FlowEngine:
    """A fresh engine with its own registry and the fake clock."""
    return FlowEngine(clock=clock)
