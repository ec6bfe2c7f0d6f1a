"""Sign-in throttling: each failed sign-in costs a token from the account's bucket and from the
address's, so guessing slows to the refill rate (per account: one try a minute once the burst
is spent) while people who type their password right are never held up. The buckets are the
shared rate limiter's, in Redis when several processes serve. Registration is throttled the
same way per invite: a refused username or display name tells its holder someone has it."""

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

    async def check(
        self, *, account: str | None = None, address: str | None = None, invite: str | None = None
    ) -> None:
        """Refuse an attempt while the failures of its account, address or invite are spent."""
        wait = 0.0
        for key, allowance in self._buckets(account, address, invite):
            wait = max(wait, await self._take(key, allowance, cost=0))
        if wait > 0:
            raise rate_limited("Too many failed attempts; wait before trying again.", wait)

    async def failed(
        self, *, account: str | None = None, address: str | None = None, invite: str | None = None
    ) -> None:
        for key, allowance in self._buckets(account, address, invite):
            await self._take(key, allowance, cost=1)

    async def _take(self, key: str, allowance: Allowance, cost: int) -> float:
        return await self.limiter.take(
            key, allowance.per_second, allowance.burst, self.clock.now(), cost
        )

    def _buckets(
        self, account: str | None, address: str | None, invite: str | None
    ) -> list[tuple[str, Allowance]]:
        # An invite is held like an account: a taken username answers `conflict`, so each
        # refusal is a guess at who is here, and guessing slows the same way.
        named = [("account", account.strip().lower() if account else None), ("invite", invite)]
        buckets = [(f"signin:{kind}:{key}", self.per_account) for kind, key in named if key]
        if address:
            buckets.append((f"signin:address:{address}", self.per_address))
        return buckets
