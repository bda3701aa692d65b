"""mc.store and mc.runner: a small public surface, every name documented."""

from __future__ import annotations

import inspect

import pytest

import mc.runner
import mc.store


@pytest.mark.parametrize("module", [mc.store, mc.runner], ids=lambda m: m.__name__)
def test_every_public_name_and_method_has_a_docstring(module):
    missing = []
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, str):
            continue
        if not value.__doc__:
            missing.append(name)
        if inspect.isclass(value):
            missing += [
                f"{name}.{attr}"
                for attr, member in vars(value).items()
                if not attr.startswith("_") and callable(member) and not member.__doc__
            ]
    assert missing == []


def test_store_errors_are_mc_errors():
    from mc.errors import MCError

    for error in (
        mc.store.StoreError,
        mc.store.FlowNotFoundError,
        mc.store.FlowExistsError,
        mc.store.StaleFlowError,
    ):
        assert issubclass(error, MCError)
