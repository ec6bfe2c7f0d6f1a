"""Prometheus metrics, one registry per application (tests run several in one process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from server.kernel.audit import AuditSink

# Handler latencies worth telling apart: a healthy send is a few milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connected_sockets = Gauge(
            "peerrooms_connected_sockets", "Socket.IO connections on this process", registry=r
        )
        self.room_memberships = Gauge(
            "peerrooms_room_memberships",
            "Rooms joined, summed over this process's sockets",
            registry=r,
        )
        self.messages_stored = Counter(
            "peerrooms_messages_stored", "Messages stored by sends through this process", registry=r
        )
        self.deliveries = Counter(
            "peerrooms_fanout_deliveries",
            "Room events handed to sockets on this process",
            registry=r,
        )
        self.event_seconds = Histogram(
            "peerrooms_event_seconds",
            "Time to handle a Socket.IO event, by event",
            ["event"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.filter_hits = Counter(
            "peerrooms_filter_hits", "Content filter hits, by kind", ["kind"], registry=r
        )
        self.open_alerts = Gauge(
            "peerrooms_open_alerts", "Alerts nobody has acknowledged yet", registry=r
        )
        self.malformed_frames = Counter(
            "peerrooms_malformed_frames",
            "Client frames dropped because they were not Socket.IO",
            registry=r,
        )
        self.slow_clients_cut_off = Counter(
            "peerrooms_slow_clients_cut_off",
            "Connections closed because their client stopped reading past the backlog bound",
            registry=r,
        )
        self.redis_errors = Gauge(
            "peerrooms_redis_errors", "Failed Redis calls since this process started", registry=r
        )

        # Gauges read off the Socket.IO manager when scraped (it counts; ops reads).
        self.pubsub_received = Gauge(
            "peerrooms_pubsub_received",
            "Socket.IO pub/sub messages from other processes this process decoded",
            registry=r,
        )
        self.pubsub_delivered = Gauge(
            "peerrooms_pubsub_delivered",
            "Of those, the ones handed to at least one socket of this process",
            registry=r,
        )
        self.pubsub_channels = Gauge(
            "peerrooms_pubsub_room_channels",
            "Per-room pub/sub channels this process listens on (rooms with a socket here)",
            registry=r,
        )

    def observe_event(self, event: str, seconds: float) -> None:
        self.event_seconds.labels(event=event).observe(seconds)


@dataclass
class CountingAudit:
    """An audit sink that counts filter hits on the way through."""

    inner: AuditSink
    metrics: Metrics

    async def record(self, *, actor_id: int | None, action: str, **details: Any) -> None:
        self.written_with_post(action)
        await self.inner.record(actor_id=actor_id, action=action, **details)

    def written_with_post(self, action: str) -> None:
        if action.startswith("filter_"):
            self.metrics.filter_hits.labels(kind=action.removeprefix("filter_")).inc()
        self.inner.written_with_post(action)
