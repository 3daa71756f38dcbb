"""When a periodic piece of work is due: shared by the training loop's components and the quality
probe the command hands it, so neither side writes the modulo rule again."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Every:
    """A cadence: due at every ``n``-th step; ``n == 0`` is never."""

    n: int

    def due(self, step: int) -> bool:
        return self.n > 0 and step % self.n == 0
