"""The store as the runner uses it, as :class:`typing.Protocol` classes.

:class:`~mc.runner.flow_runner.FlowRunner` and the ``stored_flow`` task type
need only the methods below from a store. :class:`~mc.store.FlowStore` has
them all; another store (an in-memory one for tests, or one on another
database) that has them can be checked against :class:`RunnerStore` with a
type checker. The store owns leases and its database errors: a method that
fails for a database reason should raise a :class:`~mc.errors.StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from mc.flows.flow import Flow

__all__ = ["FlowRecordLike", "RunnerStore"]


@runtime_checkable
class FlowRecordLike(Protocol):
    """What the runner reads from a stored flow's record without loading the flow."""

    key: str
    status: str
    error: str | None


@runtime_checkable
class RunnerStore(Protocol):
    """The methods of a store that runners and ``stored_flow`` tasks call."""

    clock: Callable[[], float]
    """Time in epoch seconds, the clock leases are measured by."""

    def claim(
        self,
        n: int,
        lease_s: float,
        runner_id: str,
        *,
        in_memory: Mapping[str, Flow] | None = None,
        on_load_error: Callable[[str, str], Any] | None = None,
    ) -> list[Flow]:
        """Lease up to ``n`` flows that need ticking for ``lease_s`` seconds; return them.

        A flow in ``in_memory`` that nobody wrote since this store saved it
        is returned as that object, not loaded again; a flow that does not
        load is marked FAILED and reported to ``on_load_error(key, reason)``.
        """

    def claim_flow(self, key: str, lease_s: float, runner_id: str) -> Flow | None:
        """Lease the flow ``key``; return None while another holder has it."""

    def release(self, keys: Iterable[str], runner_id: str) -> int:
        """Release the leases ``runner_id`` holds on ``keys``; return how many it released."""

    def save_flow(
        self, flow: Flow, tick_after: float | None = None, *, release: bool = True
    ) -> None:
        """Save what changed in a leased flow; release the lease unless ``release`` is False.

        Tick it again no sooner than ``tick_after``.
        """

    def renew_leases(self, keys: Iterable[str], lease_s: float, runner_id: str) -> list[str]:
        """Extend ``runner_id``'s leases on ``keys`` to ``lease_s`` from now; return the renewed."""

    def fail_flow(self, flow_or_key: Flow | str, reason: str, version: int | None = None) -> bool:
        """Mark a flow FAILED with ``reason``, without the engine; False if it changed since."""

    def count_by_status(self) -> dict[str, int]:
        """Return how many flows have each status."""

    def create_flow(self, spec_or_flow: Mapping[str, Any] | Flow) -> str:
        """Store a new flow (from a spec or a :class:`~mc.flows.flow.Flow`); return its key."""

    def get_flow(self, key: str) -> Flow:
        """Load the flow ``key``."""

    def get_record(self, key: str) -> Any:
        """Return the record of the flow ``key`` (see :class:`FlowRecordLike`)."""

    def hide_secrets(self, text: object) -> str:
        """Return ``text`` (such as a database error) with the store's secrets hidden."""
