"""The lifecycle both SQL stores share: opened once, closed for good, closing twice is
harmless, and nothing is served unless open."""

from __future__ import annotations

from typing import Literal

from eudi_connect.store.checks import closed_error

State = Literal["new", "open", "closing", "closed"]


class Lifecycle:
    """Where a store is in its life; the store sets "open" and "closed" itself."""

    _state: State = "new"

    def _begin_open(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"a {type(self).__name__} is opened once")

    def _begin_close(self) -> bool:
        """Moves to "closing"; False (nothing to close) when never opened or closed before."""
        if self._state in ("closing", "closed"):
            return False
        if self._state == "new":
            self._state = "closed"
            return False
        self._state = "closing"
        return True

    def _check_open(self) -> None:
        if self._state != "open":
            raise closed_error()
