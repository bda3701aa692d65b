"""MissionControl: an embeddable, tick-based workflow library.

The core lives in :mod:`mc.flows`; errors in :mod:`mc.errors`.
"""

__all__: list[str] = []

__version__ = "0.1.0"
