"""Summaries of py-spy profiles of the server (collapsed stacks, `--format raw`).

Profiling pauses the server briefly at each sample, so a profiled run is an extra run after
the measured ones and its figures are never the headline ones.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

LINE_NUMBER = re.compile(r":\d+\)$")
TOP = 30


def summarise(collapsed: Path) -> Path:
    """Write the top frames beside the collapsed stacks; answers the summary's path."""
    summary = collapsed.with_suffix(".txt")
    summary.write_text(top_frames(collapsed.read_text()))
    return summary


def top_frames(collapsed: str, top: int = TOP) -> str:
    """Self and inclusive sample shares per frame (function and file, lines merged)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no samples\n"
    lines = [f"{total} samples holding the GIL", "", "self time:"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive time, peerrooms frames:"]
    ours = [(f, n) for f, n in inclusive.most_common() if "(server/" in f or "server/" in f]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in ours[:top]]
    lines += ["", "inclusive time, all frames:"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"
