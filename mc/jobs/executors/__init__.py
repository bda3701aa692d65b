"""The built-in executors. Each is declared as an entry point of the group
``mc.executors`` and imported only when an engine first uses it; see
:mod:`mc.jobs.executors.base` for the interfaces."""

__all__: list[str] = []
