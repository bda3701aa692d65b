"""The spellings of MissionControl 0.x that this library accepts beside its own.

Specs written for the original MissionControl (2017) use a few spellings
that mean the same as today's; each is accepted where today's is, and this
module holds the rule for each, so that the engine and ``mc upgrade-spec``
(:mod:`mc.flows.upgrade`) apply the same one:

* a wiring's ``transform`` as a dict, ``{'type': 'json.dumps'}`` or
  ``{'type': 'mapping', 'params': {...}}`` (:func:`transform_spelling`);
* a mapping wiring's destination as ``ctx.skeleton.task_params.msg``, where
  today's is the path inside the skeleton's copy, ``task_params.msg``
  (:func:`mapping_dest`);
* ``_mc_no_interpolate: true`` on a task, for today's ``interpolate: false``
  (:func:`interpolate_setting`);
* the names of the container of a ``spread`` (``mc.tasks.inline_flow``)
  and of the built-in task types (``mc.tasks.print``), see
  :data:`LEGACY_TASK_TYPES`.

Anything that could mean two things is refused with a
:class:`~mc.errors.WiringError` or :class:`~mc.errors.FlowSpecError` that
says how to write it: a wrong guess would give silently wrong data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mc.errors import FlowSpecError, WiringError

__all__ = [
    "TRANSFORMS",
    "NO_INTERPOLATE_KEY",
    "LEGACY_TASK_TYPES",
    "SPREAD_CONTAINER_TYPES",
    "transform_spelling",
    "mapping_dest",
    "interpolate_setting",
    "spread_container",
]

#: The transforms a wiring may name (see :mod:`mc.flows.task_types.wiring`).
TRANSFORMS = ("json.dumps", "json.loads", "mapping")

#: The 0.x key that turned interpolation off for one task.
NO_INTERPOLATE_KEY = "_mc_no_interpolate"

#: 0.x names of the built-in task types, and today's name of each. 0.x
#: imported a handler module for them; here they are plain names.
LEGACY_TASK_TYPES = {
    "mc.tasks.flow": "flow",
    "mc.tasks.inline_flow": "flow",
    "mc.tasks.log": "log",
    "mc.tasks.noop": "noop",
    "mc.tasks.print": "print",
    "mc.tasks.spread": "spread",
    "mc.tasks.switch": "switch",
    "mc.tasks.wire": "wire",
    "mc.tasks.job": "job",
}

#: What a ``spread``'s ``container_task_type`` may say: each runs the item
#: tasks as an inline child flow (today's ``flow`` task type).
SPREAD_CONTAINER_TYPES = ("flow", "inline_flow", "mc.tasks.flow", "mc.tasks.inline_flow")

_TRANSFORM_KEYS = ("type", "params")


def transform_spelling(transform: Any, mapping_params: Any, where: str) -> tuple[str | None, Any]:
    """Return ``(name, mapping_params)`` for a wiring's transform, in either spelling.

    ``transform`` is today's string (``'mapping'``), or 0.x's dict
    (``{'type': 'mapping', 'params': {...}}``); ``mapping_params`` is the
    wiring's own ``mapping_params`` (or None). The mapping's params may be
    given in one place only. Raises :class:`~mc.errors.WiringError` naming
    ``where`` (the wiring) otherwise.
    """
    if transform is None:
        return None, mapping_params
    if isinstance(transform, Mapping):
        unknown = [name for name in transform if name not in _TRANSFORM_KEYS]
        if unknown:
            raise WiringError(
                f"{where}.transform: unknown key {unknown[0]!r} "
                f"(a transform dict has 'type' and, for 'mapping', 'params')"
            )
        name = transform.get("type")
        if "params" in transform:
            if name != "mapping":
                raise WiringError(
                    f"{where}.transform: only the 'mapping' transform takes params, not {name!r}"
                )
            if mapping_params is not None:
                raise WiringError(
                    f"{where}: the mapping's params are given twice, as transform.params and "
                    "as mapping_params; keep one"
                )
            mapping_params = transform["params"]
        where_name = f"{where}.transform.type"
    else:
        name = transform
        where_name = f"{where}.transform"
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise WiringError(f"{where_name}: expected one of {', '.join(TRANSFORMS)}, got {name!r}")
    if name == "mapping" and not isinstance(mapping_params, Mapping):
        raise WiringError(
            f"{where}.mapping_params: the 'mapping' transform needs a dict "
            "(as mapping_params, or as transform.params)"
        )
    return name, mapping_params


def mapping_dest(dest: str, where: str) -> str:
    """Return the path inside a skeleton's copy that a mapping wiring writes to.

    Today's form is that path itself (``task_params.msg``); 0.x's is
    ``ctx.skeleton.task_params.msg``. A destination that starts with
    ``ctx`` otherwise (``ctx.flow.data.x``, or ``ctx.skeleton`` alone) is
    refused: 0.x wrote it into the context, outside the copy, and today's
    form would make a key ``ctx`` in the copy. Neither is what a mapping
    is for, so :class:`~mc.errors.WiringError` says how to write it.
    """
    first, _, rest = dest.partition(".")
    if first != "ctx":
        return dest
    second, _, inner = rest.partition(".")
    if second == "skeleton" and inner:
        return inner
    raise WiringError(
        f"{where}: dest {dest!r} is ambiguous in a mapping: a mapping wiring writes into "
        "the skeleton's copy; write the path inside it, as 'task_params.msg' "
        "(or 0.x's 'ctx.skeleton.task_params.msg')"
    )


def interpolate_setting(task_spec: Mapping[str, Any], path: str) -> bool | None:
    """Return False if a task spec turns interpolation off, else None.

    Today's spelling is ``interpolate: false`` (``true``, or leaving it out,
    is the default); 0.x's is ``_mc_no_interpolate: true``. Giving both,
    or ``_mc_no_interpolate`` with any other value (0.x turned interpolation
    off whatever the value was, which reads the other way for ``false``),
    raises :class:`~mc.errors.FlowSpecError`.
    """
    interpolate = task_spec.get("interpolate")
    if interpolate is not None and not isinstance(interpolate, bool):
        raise FlowSpecError(
            f"{path}.interpolate", f"expected true or false, got {type(interpolate).__name__}"
        )
    if NO_INTERPOLATE_KEY in task_spec:
        if task_spec[NO_INTERPOLATE_KEY] is not True:
            raise FlowSpecError(
                f"{path}.{NO_INTERPOLATE_KEY}",
                f"expected true, got {task_spec[NO_INTERPOLATE_KEY]!r}; write "
                "'interpolate: false' to turn interpolation off, or leave both out",
            )
        if interpolate is not None:
            raise FlowSpecError(
                path, f"give one of 'interpolate' and '{NO_INTERPOLATE_KEY}', not both"
            )
        return False
    return False if interpolate is False else None


def spread_container(value: Any, where: str) -> None:
    """Check a ``spread``'s 0.x ``container_task_type``: it must name an inline flow.

    Raises ValueError naming ``where`` for anything else: the item tasks of
    a spread run as a ``flow`` task here, and another container would be
    silently ignored.
    """
    if value is None or value in SPREAD_CONTAINER_TYPES:
        return
    raise ValueError(
        f"{where}: container_task_type {value!r} is not supported: a spread runs its "
        f"items as an inline child flow (expected one of {', '.join(SPREAD_CONTAINER_TYPES)}, "
        "or leave it out)"
    )
