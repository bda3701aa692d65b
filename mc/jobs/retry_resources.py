"""Resources that grow on retry: a job task's ``resources`` for its Nth attempt.

A ``job`` task's ``task_params.resources`` may give, for ``cores``,
``memory_mb`` and ``walltime_s``,

* a number: every attempt asks for it;
* a list of numbers, one per attempt (``memory_mb: [4000, 8000, 16000]``):
  attempt N asks for the Nth, and attempts past the list for the last;
* a number with a multiplier in ``retry_scale`` (``memory_mb: 4000,
  retry_scale: {memory_mb: 2, walltime_s: 1.5}``): attempt N asks for the
  number times the multiplier to the power N - 1,

as Snakemake's ``attempt``-dependent resources and Nextflow's
``memory { 2.GB * task.attempt }`` allow. A multiplier is between 1 and
:data:`MAX_RETRY_SCALE`, lists have at most :data:`MAX_ATTEMPT_VALUES`
values, and a grown value is capped at the resource's limit
(:data:`~mc.jobs.job_dir.RESOURCE_LIMITS`), ``cores`` rounded up to a whole
number; values as given are checked by the executor as always. What an
attempt asked for is written into its job dir as ``resources.json`` by the
executor that submits it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mc.errors import JobError
from mc.jobs.job_dir import RESOURCE_LIMITS

__all__ = ["MAX_RETRY_SCALE", "MAX_ATTEMPT_VALUES", "SCALABLE", "resources_for_attempt"]


MAX_RETRY_SCALE = 16.0
MAX_ATTEMPT_VALUES = 100
SCALABLE = tuple(RESOURCE_LIMITS)


def resources_for_attempt(resources: Any, attempt: int, where: str) -> dict[str, Any] | None:
    """Return the plain resources of attempt number ``attempt`` (1 for the first).

    Raises JobError for resources that do not fit the rules above.

    ``where`` names the resources in messages (``task 'fit': task_params.resources``).
    Names other than the scalable ones and ``retry_scale`` pass through
    unchanged, for the executor to check.
    """
    if resources is None:
        return None
    if not isinstance(resources, Mapping):
        raise JobError(f"{where}: expected a mapping, got {type(resources).__name__}")
    scale = resources.get("retry_scale") or {}
    if not isinstance(scale, Mapping):
        raise JobError(f"{where}.retry_scale: expected a mapping of resource names to multipliers")
    for name, factor in scale.items():
        if name not in SCALABLE:
            raise JobError(
                f"{where}.retry_scale: {name!r} cannot grow (expected some of {list(SCALABLE)})"
            )
        if not _number(factor) or not 1 <= factor <= MAX_RETRY_SCALE:
            raise JobError(
                f"{where}.retry_scale.{name}: expected a number from 1 to "
                f"{MAX_RETRY_SCALE:g}, got {factor!r}"
            )
        if not _number(resources.get(name)):
            raise JobError(
                f"{where}.retry_scale.{name}: {name} must be given as a number to be scaled"
            )
    plain = {name: value for name, value in resources.items() if name != "retry_scale"}
    for name in SCALABLE:
        value: Any = plain.get(name)
        if isinstance(value, list):
            if (
                not value
                or len(value) > MAX_ATTEMPT_VALUES
                or not all(_number(item) and item > 0 for item in value)
            ):
                raise JobError(
                    f"{where}.{name}: a list gives one positive number per attempt "
                    f"(1 to {MAX_ATTEMPT_VALUES} of them), got {value!r}"
                )
            value = value[min(attempt, len(value)) - 1]
        elif (
            name in scale and _number(value) and 0 < value <= RESOURCE_LIMITS[name] and attempt > 1
        ):
            # Step by step, stopping at the cap: a power could overflow. A
            # value past the limit is left as given, for the executor to refuse.
            for _ in range(min(attempt - 1, 10_000)):
                if value >= RESOURCE_LIMITS[name]:
                    break
                value = value * scale[name]
            value = min(value, RESOURCE_LIMITS[name])
            if name == "cores":
                value = int(math.ceil(value))
        if name in plain:
            plain[name] = value
    return plain


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
