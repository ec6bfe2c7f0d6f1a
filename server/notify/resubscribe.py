"""A browser's push subscription replaced by the browser itself (`pushsubscriptionchange`).

A push service may end a subscription and hand the browser a new one (its keys rotated, or it
expired). The service worker that hears of it holds no sign-in: tokens live in the page's
sessionStorage, and the page may be long closed. What the worker does hold is the old
subscription, whose `auth` secret only that browser and this server know (the browser made it
and gave it to us when it subscribed; it never leaves the two). So the worker proves with it
that the new subscription takes the old one's place, for the same person: nobody else can move
a subscription, and nobody can bring a browser of their own under someone else's name.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.accounts.throttle import SignInThrottle
from server.kernel.errors import AppError
from server.kernel.validation import InputModel
from server.notify.models import PushSubscription, SubscriptionIn
from server.notify.service import Notifications


class ReplaceSubscriptionIn(InputModel):
    """The old subscription's endpoint and auth secret, and the browser's new subscription as
    PushSubscription.toJSON() gives it."""

    old_endpoint: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
    ]
    old_auth: Annotated[str, StringConstraints(min_length=8, max_length=64)]
    subscription: SubscriptionIn


def unknown_subscription() -> AppError:
    # One answer for an unknown endpoint and a wrong secret: which endpoints exist is not told.
    return AppError("not_found", "No such push subscription (or its auth secret is not this).")


async def replace_subscription(
    notifications: Notifications,
    throttle: SignInThrottle,
    data: ReplaceSubscriptionIn,
    address: str | None,
) -> None:
    """Put the new subscription in the old one's place, for the old one's owner; `not_found`
    unless the old endpoint is held and `old_auth` is its secret.

    A refusal costs from the caller's address's bucket of failed sign-ins, as a refused invite
    code does: the secret is 16 random bytes, so guessing is hopeless anyway, but an address
    that keeps failing is held up rather than served as fast as it asks."""
    await throttle.check(address=address)
    # The server posts to whatever endpoint is stored: the same hosts as a subscription made
    # while signed in, checked before anything is looked up.
    notifications.policy.check(data.subscription.endpoint)
    async with notifications.sessions() as session:
        replaced = await swap_subscription(session, data, now=notifications.clock.now())
    if not replaced:
        await throttle.failed(address=address)
        raise unknown_subscription()


async def swap_subscription(
    session: AsyncSession, data: ReplaceSubscriptionIn, *, now: datetime
) -> bool:
    """In one transaction: the old subscription out and the new one in under the same owner
    (the same endpoint when only the keys changed). False, changing nothing, when the old
    endpoint is not held or the secret does not match; `conflict` when the new endpoint is
    someone else's."""
    old = await _subscription_at(session, data.old_endpoint)
    if old is None or not hmac.compare_digest(old.auth.encode(), data.old_auth.encode()):
        return False
    new = data.subscription
    holder = await _subscription_at(session, new.endpoint)
    if holder is not None and holder.user_id != old.user_id:
        # Someone signed in since and turned notifications on with it: theirs stands. Taking it
        # over needs a sign-in (POST /api/me/push-subscriptions), never just a browser's secret.
        raise AppError("conflict", "This subscription belongs to another account now.")
    # Held by the same person already (the page handed it over too): one row stays.
    await session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.endpoint).in_({old.endpoint, new.endpoint})
        )
    )
    session.add(
        PushSubscription(
            user_id=old.user_id,
            endpoint=new.endpoint,
            p256dh=new.keys.p256dh,
            auth=new.keys.auth,
            created_at=now,
        )
    )
    await session.commit()
    return True


async def _subscription_at(session: AsyncSession, endpoint: str) -> PushSubscription | None:
    result = await session.execute(
        select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)
    )
    return result.scalars().first()
