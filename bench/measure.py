"""Turning what the workers saw into figures: latency percentiles (overall and per second),
and the delivery ledger (lost, duplicated, unexpected)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from bench.load import LoadReport


def percentiles(values: Sequence[float] | np.ndarray) -> dict[str, float | int | None]:
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    p50, p95, p99 = np.percentile(data, [50, 95, 99])
    return {
        "count": int(data.size),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "max": round(float(data.max()), 3),
        "mean": round(float(data.mean()), 3),
    }


def latency_windows(
    sent_at_s: np.ndarray, latency_ms: np.ndarray, window_s: float = 1.0
) -> list[dict[str, float]]:
    """p50/p95/p99 of the deliveries of messages sent in each `window_s` window."""
    if sent_at_s.size == 0:
        return []
    buckets = np.floor(sent_at_s / window_s).astype(int)
    order = np.argsort(buckets, kind="stable")
    buckets, values = buckets[order], latency_ms[order]
    edges = np.flatnonzero(np.diff(buckets)) + 1
    windows = []
    for chunk_buckets, chunk in zip(np.split(buckets, edges), np.split(values, edges), strict=True):
        p50, p95, p99 = np.percentile(chunk, [50, 95, 99])
        windows.append(
            {
                "t": float(chunk_buckets[0] * window_s),
                "n": int(chunk.size),
                "p50": round(float(p50), 3),
                "p95": round(float(p95), 3),
                "p99": round(float(p99), 3),
            }
        )
    return windows


def delivery_ledger(
    reports: Iterable[LoadReport], members: Mapping[int, Sequence[int]]
) -> dict[str, Any]:
    """Compare who received each message with who should have.

    Expected receivers of a message are the connected members of its room (the sender
    included). Only messages acked `ok` are owed; refused ones must not arrive at all, and
    unanswered ones are counted apart (a healthy run has none)."""
    reports = list(reports)
    owed: dict[str, int] = {}
    refused: Counter[str] = Counter()
    unacked: set[str] = set()
    for report in reports:
        for client_id, room_id, ok, code, _latency in report.sent:
            if ok:
                owed[client_id] = room_id
            else:
                refused[code] += 1
        unacked.update(client_id for client_id, _room in report.unacked)
    counts: Counter[tuple[str, int]] = Counter()
    for report in reports:
        counts.update(report.receipts)
    received_by: dict[str, set[int]] = {}
    for (client_id, receiver), _n in counts.items():
        received_by.setdefault(client_id, set()).add(receiver)
    expected = sum(len(members[room]) for room in owed.values())
    missing = {
        client_id: len(set(members[room]) - received_by.get(client_id, set()))
        for client_id, room in owed.items()
    }
    lost = sum(missing.values())
    examples = [
        f"{cid}: {n} of {len(members[owed[cid]])} missing" for cid, n in missing.items() if n
    ]
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    unexpected = sum(
        n
        for (client_id, _r), n in counts.items()
        if client_id not in owed and client_id not in unacked
    )
    return {
        "messages_acked_ok": len(owed),
        "messages_refused": dict(refused),
        "messages_unacked": len(unacked),
        "deliveries_expected": expected,
        "deliveries": sum(counts.values()),
        "lost": lost,
        "lost_examples": examples[:5],
        "duplicated": duplicated,
        "unexpected": unexpected,
    }


def summarise_load(
    reports: Sequence[LoadReport],
    members: Mapping[int, Sequence[int]],
    *,
    offered_rate: float,
    duration_s: float,
    server_cpu_s: float,
    server_rss_kib: int,
    server_peak_rss_kib: int,
) -> dict[str, Any]:
    """The figures of one load run, and the per-second windows for the plot."""
    sent_at = np.concatenate([np.frombuffer(r.sent_at_s, dtype=float) for r in reports])
    latency = np.concatenate([np.frombuffer(r.latency_ms, dtype=float) for r in reports])
    ledger = delivery_ledger(reports, members)
    acks = [row[4] for report in reports for row in report.sent]
    sent = sum(len(r.sent) + len(r.unacked) for r in reports)
    deliveries = ledger["deliveries"]
    return {
        "offered_rate": offered_rate,
        "duration_s": duration_s,
        "messages_sent": sent,
        "messages_retried": sum(r.retried for r in reports),
        "achieved_rate": round(sent / duration_s, 1) if duration_s else None,
        "delivery_latency_ms": percentiles(latency),
        "ack_latency_ms": percentiles(acks),
        **ledger,
        "server_cpu_s": round(server_cpu_s, 3),
        "server_cpu_us_per_delivery": (
            round(server_cpu_s / deliveries * 1e6, 2) if deliveries else None
        ),
        "server_rss_mib": round(server_rss_kib / 1024, 1),
        "server_peak_rss_mib": round(server_peak_rss_kib / 1024, 1),
        "generator": generator_figures(reports),
        "windows": latency_windows(sent_at, latency),
    }


def generator_figures(reports: Sequence[LoadReport]) -> dict[str, Any]:
    """Each worker's CPU use, so a run shows whether the generator kept up."""
    per_worker = [
        {
            "worker": r.worker,
            "cpu_s": round(r.cpu_s, 3),
            "utilisation": round(r.cpu_s / r.wall_s, 3) if r.wall_s else None,
            "max_schedule_lag_ms": round(r.max_schedule_lag_ms, 1),
            "disconnected": r.disconnected,
        }
        for r in reports
    ]
    busiest = max((w["utilisation"] or 0.0 for w in per_worker), default=0.0)
    return {"workers": per_worker, "max_utilisation": busiest, "saturated": busiest > 0.9}
