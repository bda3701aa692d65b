"""Example job modules, used by ``examples/jobs_sweep.yaml``, the docs and the tests.

Run them with ``allow_imports=['mc.jobs.examples']`` (``mc run
--allow-imports mc.jobs.examples``), or register them by name.
"""

__all__: list[str] = []
