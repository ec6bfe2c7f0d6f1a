"""Sign-in throttling: each failed sign-in costs a token from the account's bucket and from the
address's, so guessing slows to the refill rate (per account: one try a minute once the burst
is spent) while people who type their password right are never held up. The buckets are the
shared rate limiter's, in Redis when several processes serve."""

from __future__ import annotations

from dataclasses import dataclass

from server.kernel.clock import Clock
from server.kernel.errors import rate_limited
from server.kernel.ratelimit import RateLimiter


@dataclass(frozen=True)
class Allowance:
    """`burst` failures at once, then one more every `refill_s`."""

    burst: int
    refill_s: float

    @property
    def per_second(self) -> float:
        return 1.0 / self.refill_s


@dataclass
class SignInThrottle:
    limiter: RateLimiter
    clock: Clock
    per_account: Allowance
    per_address: Allowance

    async def check(self, username: str | None, address: str | None) -> None:
        """Refuse an attempt while the account's or the address's failures are spent."""
        wait = 0.0
        for key, allowance in self._buckets(username, address):
            wait = max(wait, await self._take(key, allowance, cost=0))
        if wait > 0:
            raise rate_limited("Too many failed attempts; wait before trying again.", wait)

    async def failed(self, username: str | None, address: str | None) -> None:
        for key, allowance in self._buckets(username, address):
            await self._take(key, allowance, cost=1)

    async def _take(self, key: str, allowance: Allowance, cost: int) -> float:
        return await self.limiter.take(
            key, allowance.per_second, allowance.burst, self.clock.now(), cost
        )

    def _buckets(self, username: str | None, address: str | None) -> list[tuple[str, Allowance]]:
        buckets = []
        if username:
            buckets.append((f"signin:account:{username.strip().lower()}", self.per_account))
        if address:
            buckets.append((f"signin:address:{address}", self.per_address))
        return buckets
