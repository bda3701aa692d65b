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

Other names, in other units (:data:`RESOURCE_ALIASES`), are accepted for
the three, as users of Snakemake, Nextflow and the issue's examples write
them: ``mem_gb`` (gigabytes of 1024 MB, as SLURM's ``--mem=4G``),
``mem_mb``, ``time_min`` and ``runtime`` (minutes, Snakemake's unit),
``cpus`` (Nextflow's) and ``cpus_per_task``. Each is a positive number or
a list of them, and may be scaled in ``retry_scale`` under the name it was
given by. They are turned into ``memory_mb``, ``walltime_s`` and ``cores``
before anything else, so the executor sees (and ``resources.json`` records)
those; a resource given under two names is refused. Values with units
in a string (Nextflow's ``'4 GB'``) are not read: the unit is in the name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mc.errors import JobError
from mc.jobs.job_dir import RESOURCE_LIMITS

__all__ = [
    "MAX_RETRY_SCALE",
    "MAX_ATTEMPT_VALUES",
    "RESOURCE_ALIASES",
    "SCALABLE",
    "canonical_resources",
    "resources_for_attempt",
]


MAX_RETRY_SCALE = 16.0
MAX_ATTEMPT_VALUES = 100
SCALABLE = tuple(RESOURCE_LIMITS)

# Other names of the scalable resources: name -> (resource, how many of its
# units one of the name's is).
RESOURCE_ALIASES: dict[str, tuple[str, int]] = {
    "mem_gb": ("memory_mb", 1024),
    "mem_mb": ("memory_mb", 1),
    "time_min": ("walltime_s", 60),
    "runtime": ("walltime_s", 60),
    "cpus": ("cores", 1),
    "cpus_per_task": ("cores", 1),
}


def resources_for_attempt(resources: Any, attempt: int, where: str) -> dict[str, Any] | None:
    """Return the plain resources of attempt number ``attempt`` (1 for the first).

    Raises JobError for resources that do not fit the rules above.

    ``where`` names the resources in messages (``task 'fit': task_params.resources``).
    Names other than the scalable ones and ``retry_scale`` pass through
    unchanged, for the executor to check.
    """
    if resources is None:
        return None
    resources = canonical_resources(resources, where)
    scale = resources.get("retry_scale") or {}
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


def canonical_resources(resources: Any, where: str) -> dict[str, Any]:
    """Return ``resources`` with the names of :data:`RESOURCE_ALIASES` turned into their resource's.

    Values are converted to the resource's units; ``retry_scale`` may name
    a resource by any of its names (a multiplier has no unit). Raises
    JobError, naming the path, for an alias whose value is not a positive
    number (or a list of them), a resource given twice, or a
    ``retry_scale`` that does not fit the rules above.
    """
    if not isinstance(resources, Mapping):
        raise JobError(f"{where}: expected a mapping, got {type(resources).__name__}")
    scale = resources.get("retry_scale") or {}
    if not isinstance(scale, Mapping):
        raise JobError(f"{where}.retry_scale: expected a mapping of resource names to multipliers")
    plain: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for name, value in resources.items():
        resource, units = RESOURCE_ALIASES.get(name, (name, 0))
        if resource in given_as:
            raise JobError(
                f"{where}: {given_as[resource]!r} and {name!r} both give {resource}; give one"
            )
        if resource in SCALABLE:
            given_as[resource] = name
        if units:
            plain[resource] = _converted(value, resource, units, f"{where}.{name}")
        else:
            plain[name] = value
    if "retry_scale" in resources:
        canonical_scale: dict[str, Any] = {}
        for name, factor in scale.items():
            resource = RESOURCE_ALIASES.get(name, (name, 0))[0]
            if resource not in SCALABLE:
                names = [*SCALABLE, *RESOURCE_ALIASES]
                raise JobError(
                    f"{where}.retry_scale: {name!r} cannot grow (expected some of {names})"
                )
            if resource in canonical_scale:
                raise JobError(f"{where}.retry_scale: {resource} is scaled twice; scale it once")
            if not _number(factor) or not 1 <= factor <= MAX_RETRY_SCALE:
                raise JobError(
                    f"{where}.retry_scale.{name}: expected a number from 1 to "
                    f"{MAX_RETRY_SCALE:g}, got {factor!r}"
                )
            if not _number(plain.get(resource)):
                raise JobError(
                    f"{where}.retry_scale.{name}: {given_as.get(resource, name)} must be given "
                    "as a number to be scaled"
                )
            canonical_scale[resource] = factor
        plain["retry_scale"] = canonical_scale
    return plain


def _converted(value: Any, resource: str, units: int, where: str) -> Any:
    """``value`` (a positive number, or a list of them) times ``units``, or JobError."""
    values = value if isinstance(value, list) else [value]
    limit = RESOURCE_LIMITS[resource] / units
    if (
        not values
        or len(values) > MAX_ATTEMPT_VALUES
        or not all(_number(item) and 0 < item <= limit for item in values)
    ):
        raise JobError(
            f"{where}: expected a positive number up to {limit:g}, or a list of 1 to "
            f"{MAX_ATTEMPT_VALUES} of them (one per attempt), got {_short(value)}"
        )
    converted = [item * units for item in values]
    return converted if isinstance(value, list) else converted[0]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
