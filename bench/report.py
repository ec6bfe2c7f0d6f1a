"""Results on disk: one JSON per scenario, PNG plots (matplotlib, Agg), the printed table, and
the table in bench/README.md between its markers."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

README = Path(__file__).resolve().parent / "README.md"
TABLE_START = "<!-- results:start -->"
TABLE_END = "<!-- results:end -->"
SCENARIO_ORDER = (
    "fanout",
    "ceiling",
    "idle",
    "history",
    "filters",
    "search",
    "sharing",
    "storm",
    "overload",
    "soak",
)
COLOURS = {"peerrooms": "tab:red", "bare": "tab:blue", "node": "tab:green"}
STYLES = {"p50": "-", "p95": "--", "p99": ":"}


@dataclass(frozen=True)
class Check:
    """One row of the results table: a figure for both systems and its target."""

    figure: str
    peerrooms: float | str | None
    bare: float | str | None
    ratio: float | str | None
    target: str
    passed: bool | None

    def cells(self) -> list[str]:
        verdict = {True: "pass", False: "FAIL", None: "n/a"}[self.passed]
        return [
            self.figure,
            fmt(self.peerrooms),
            fmt(self.bare),
            fmt(self.ratio),
            self.target,
            verdict,
        ]


def fmt(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def ratio(peerrooms: float | None, bare: float | None) -> float | None:
    if peerrooms is None or bare is None or bare == 0:
        return None
    return round(peerrooms / bare, 2)


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def write_result(out: Path, scenario: str, data: dict[str, Any], checks: Sequence[Check]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "scenario": scenario,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **data,
        "checks": [asdict(check) for check in checks],
    }
    path = out / f"{scenario}.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    print_table(scenario, checks)
    return path


def markdown_table(checks: Sequence[Check]) -> str:
    header = ["figure", "peerrooms", "bare", "peerrooms/bare", "target", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(check.cells()) + " |" for check in checks]
    return "\n".join(lines)


def print_table(scenario: str, checks: Sequence[Check]) -> None:
    print(f"\n== {scenario} ==")
    print(markdown_table(checks))


def save_plot(figure: Figure, axes: Axes, path: Path, legend_columns: int = 1) -> None:
    """The end every plot here shares: a light grid, the legend, written at 110 dpi, closed."""
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", ncols=legend_columns)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_windows(
    path: Path, title: str, series: Mapping[str, Sequence[Mapping[str, float]]]
) -> None:
    """Latency p50/p95/p99 per window over time, one colour per system."""
    figure, axes = plt.subplots(figsize=(10, 5))
    for name, windows in series.items():
        colour = COLOURS.get(name.split(" ")[0], None)
        times = [w["t"] for w in windows]
        for key, style in STYLES.items():
            axes.plot(times, [w[key] for w in windows], style, color=colour, label=f"{name} {key}")
    axes.set_yscale("log")
    axes.set_xlabel("seconds since the start of sending")
    axes.set_ylabel("delivery latency (ms)")
    axes.set_title(title)
    save_plot(figure, axes, path, legend_columns=2)


def plot_ceiling(
    path: Path, series: Mapping[str, Sequence[Mapping[str, Any]]], limit_ms: float
) -> None:
    """p99 delivery latency at each offered rate the search tried, per configuration."""
    figure, axes = plt.subplots(figsize=(10, 5))
    for name, steps in series.items():
        ordered = sorted(steps, key=lambda s: s["offered_rate"])
        rates = [s["offered_rate"] for s in ordered]
        p99 = [s["delivery_latency_ms"]["p99"] or float("nan") for s in ordered]
        colour = COLOURS.get(name.split(" ")[0], None)
        style = "-o" if "1 process" in name else "--s"
        axes.plot(rates, p99, style, color=colour, label=name)
    axes.axhline(limit_ms, color="grey", linewidth=1, label=f"p99 limit {limit_ms:.0f} ms")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered messages/s")
    axes.set_ylabel("p99 delivery latency (ms)")
    axes.set_title("ceiling: p99 latency by offered rate")
    save_plot(figure, axes, path)


def update_readme(results: Path, readme: Path = README) -> None:
    """Put the latest tables (and plot links) of `results` into the README between markers."""
    parts = []
    for scenario in SCENARIO_ORDER:
        path = results / f"{scenario}.json"
        if not path.is_file():
            continue
        document = json.loads(path.read_text())
        checks = [Check(**row) for row in document.get("checks", [])]
        parts.append(
            f"### {scenario} ({document['finished_at']}, {document['machine']['cores']} cores)\n"
        )
        if document.get("notes"):
            parts.append("\n".join(f"- {note}" for note in document["notes"]) + "\n")
        parts.append(markdown_table(checks) + "\n")
        for image in sorted(results.glob(f"{scenario}*.png")):
            relative = os.path.relpath(image, readme.parent)
            parts.append(f"![{image.stem}]({relative})\n")
    text = readme.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    readme.write_text(text[:start] + "\n" + "\n".join(parts) + text[end:])
