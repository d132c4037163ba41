"""One backoff for every loop that retries or polls: the client's requests and status waits,
the extension's forwarding, the Watcher and its change feed, the emulator supervisor, the
panel's event stream and actions, the magics' waits.

Pure computation (no I/O): exponential, capped, with jitter, bounded by a deadline, and giving
way to what the server asked for (``Retry-After``, read by ``jupyter_sessions.client.retry``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``first * factor**attempt`` capped at ``cap``, drawn
    from ``[(1 - jitter) * d, d]`` so that clients that failed together do not come back
    together.

    ``delay`` adds the rest of a retry decision: the server's ``Retry-After`` wins over the
    schedule (and one longer than ``max_hint`` is not slept through), and no wait may end past
    the ``deadline`` (a ``time.monotonic()`` value).
    """

    first: float
    cap: float
    factor: float = 2.0
    jitter: float = 0.5

    def step(self, attempt: int) -> float:
        """The wait before retry ``attempt + 1`` (``attempt`` counts from 0)."""
        ceiling = min(self.cap, self.first * self.factor ** max(0, attempt))
        return random.uniform((1.0 - self.jitter) * ceiling, ceiling)

    def delay(
        self,
        attempt: int,
        *,
        hint: float | None = None,
        max_hint: float | None = None,
        deadline: float | None = None,
    ) -> float | None:
        """Seconds to wait before retry ``attempt + 1``, or None to give up."""
        if hint is not None:
            if max_hint is not None and hint > max_hint:
                return None
            wait = hint
        else:
            wait = self.step(attempt)
        if deadline is not None and time.monotonic() + wait > deadline:
            return None
        return wait
