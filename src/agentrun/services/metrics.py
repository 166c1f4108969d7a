"""Prometheus text exposition for the few numbers operators watch (no client library needed)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Histogram:
    def __init__(self, name: str, help: str, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self.name = name
        self.help = help
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            cumulative += count
            lines.append(f'{self.name}_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{self.name}_sum {self.sum}")
        lines.append(f"{self.name}_count {self.count}")
        return lines


class Metrics:
    """Histograms observed by this process; gauges are read from the store at scrape time."""

    def __init__(self) -> None:
        self.run_duration = Histogram(
            "agentrun_run_duration_seconds", "From start to terminal status, per run."
        )
        self.queue_wait = Histogram("agentrun_run_queue_wait_seconds", "From creation to start, per run.")
        self.tool_step = Histogram("agentrun_tool_step_seconds", "Duration of one tool call step.")

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]]) -> str:
        lines: list[str] = []
        seen: set[str] = set()
        for name, help, labels, value in gauges:
            if name not in seen:
                lines += [f"# HELP {name} {help}", f"# TYPE {name} gauge"]
                seen.add(name)
            label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
        for histogram in (self.run_duration, self.queue_wait, self.tool_step):
            lines += histogram.render()
        return "\n".join(lines) + "\n"
