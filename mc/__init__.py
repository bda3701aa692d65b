"""MissionControl: an embeddable, tick-based workflow library.

The core lives in :mod:`mc.flows`; errors in :mod:`mc.errors`.
"""

__version__ = "0.1.0"
