"""The markdown report: one table of measures with ratios, then the targets with PASS/MISS.

Every ratio compares figures from the same run. The targets are stated for 100k
entities; at another size they are checked at that size and the heading says so.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.scenarios import WRITER_FLOOR, Measure, Results

__all__ = ["Target", "load_peak_rss", "render", "save_json", "targets"]

RSS_LIMIT_MB = 300.0
EXPORT_TARGET = f"export <= 1.5x {WRITER_FLOOR}"
ENQUEUE_LIMIT_S = 0.050
PRODUCT = ("export", "import", "sync, no change", "sync, 1 file changed", "sync, 1% changed")


@dataclass(frozen=True)
class Target:
    """One target checked on one backend."""

    name: str
    backend: str
    measured: str
    ok: bool | None  # None: could not be measured

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else ("PASS" if self.ok else "MISS")


def _ratio(a: Measure | None, b: Measure | None, per_item: bool = False) -> float | None:
    if a is None or b is None or not b.seconds or not a.seconds:
        return None
    if per_item:
        return a.per_item / b.per_item
    return a.median / b.median


def _floor_ratio(res: Results, b: str) -> float | None:
    """Export over the atomic-writer floor on backend ``b``.

    The floor ran just before each export of the first backend, so there the ratio is the
    median of the run-by-run ratios (the disk's drift cancels); elsewhere, of the medians.
    """
    export, floor = res.get("export", b), res.get(WRITER_FLOOR, "fs")
    if export is None or floor is None or b != res.backends[0]:
        return _ratio(export, floor)
    if not export.seconds or len(export.seconds) != len(floor.seconds):
        return _ratio(export, floor)
    pairs = zip(export.seconds, floor.seconds, strict=True)
    return float(statistics.median(x / y for x, y in pairs))


def _x(value: float | None, what: str) -> str:
    return "" if value is None else f"{value:.2f}x {what}"


def _speedup(seq: Measure | None, par: Measure | None) -> float | None:
    """How many times faster per item ``par`` is than ``seq``."""
    return _ratio(seq, par, per_item=True)


def _delta_ms(a: Measure | None, b: Measure | None) -> float | None:
    """Milliseconds ``a`` takes over ``b``: the median of run-by-run differences when
    the runs were interleaved (same count), else the difference of the medians."""
    if a is None or b is None or not a.seconds or not b.seconds:
        return None
    if len(a.seconds) == len(b.seconds):
        return statistics.median(x - y for x, y in zip(a.seconds, b.seconds, strict=True)) * 1000
    return (a.median - b.median) * 1000


def _compare(res: Results, m: Measure) -> list[str]:
    """The ratios of ``m`` to its relevant baselines, as short phrases."""
    g, b = res.get, m.backend
    s = m.scenario
    if s == "export":
        return [_x(_floor_ratio(res, b), "writer floor"),
                _x(_ratio(m, g("tar -x", "fs")), "tar -x"),
                _x(_speedup(g("export, sequential", b), m), "faster than seq")]  # fmt: skip
    if s == WRITER_FLOOR:
        return [_x(_ratio(m, g("tar -x", "fs")), "tar -x")]
    if s == "import":
        return [_x(_ratio(m, g("minimal floor import", b)), "floor"),
                _x(_ratio(m, g("tar -c to pipe", "fs")), "tar -c"),
                _x(_speedup(g("import, sequential", b), m), "faster than seq")]  # fmt: skip
    if s == "minimal floor import":
        return [_x(_ratio(m, g("tar -c to pipe", "fs")), "tar -c")]
    if s == "sync, no change":
        return [_x(_ratio(m, g("scandir+stat walk", "fs")), "walk"), f"reads {max(m.reads)}"]
    if s.startswith("sync, "):
        delta = _delta_ms(m, g("sync, no change", b))
        return [f"{delta:+.0f} ms vs no-change" if delta is not None else "",
                f"reads {max(m.reads)}"]  # fmt: skip
    if s.endswith(", sequential"):
        return [f"{m.per_item * res.size:.1f} s extrapolated to N" if m.n != res.size else ""]
    if s.startswith(("export, chunk", "import, chunk")):
        op = s.split(",")[0]
        return [_x(_ratio(m, g(op, b)), "default"),
                _x(_speedup(g(f"{op}, sequential", b), m), "faster than seq")]  # fmt: skip
    return []


def targets(res: Results, previous_rss: dict[str, float] | None) -> list[Target]:
    """Every target on every backend measured."""
    found: list[Target] = []
    for b in res.backends:
        found += list(_backend_targets(res, b))
        found.append(_rss_target(res, b, previous_rss))
    for b in res.backends:
        found.append(_enqueue_target(res, b))
    return found


def _limit(name: str, b: str, value: float | None, limit: float, unit: str = "x") -> Target:
    if value is None:
        return Target(name, b, "not measured", None)
    return Target(name, b, f"{value:.2f}{unit}", value <= limit)


def _backend_targets(res: Results, b: str) -> Iterator[Target]:
    g = res.get
    yield _limit(EXPORT_TARGET, b, _floor_ratio(res, b), 1.5)
    yield _limit("export <= 1.5x tar -x", b, _ratio(g("export", b), g("tar -x", "fs")), 1.5)
    floor = g("minimal floor import", b)
    yield _limit("import <= 1.5x minimal floor", b, _ratio(g("import", b), floor), 1.5)
    nochange = g("sync, no change", b)
    ratio = _ratio(nochange, g("scandir+stat walk", "fs"))
    reads = max(nochange.reads) if nochange and nochange.reads else None
    name = "no-change sync <= 2x walk, 0 reads"
    if ratio is None or reads is None:
        yield Target(name, b, "not measured", None)
    else:
        yield Target(name, b, f"{ratio:.2f}x, {reads} reads", ratio <= 2.0 and reads == 0)
    delta = _delta_ms(g("sync, 1 file changed", b), nochange)
    yield _limit("1 changed file <= no-change + 50 ms", b, delta, 50.0, " ms")
    for op in ("export", "import"):
        speed = _speedup(g(f"{op}, sequential", b), g(op, b))
        name = f"{op}: parallel >= 2x faster than sequential"
        if speed is None:
            yield Target(name, b, "not measured", None)
        else:
            yield Target(name, b, f"{speed:.2f}x faster per item", speed >= 2.0)


def _rss_target(res: Results, b: str, previous: dict[str, float] | None) -> Target:
    peaks = [m.peak_rss for s in PRODUCT if (m := res.get(s, b)) and m.peak_rss]
    if not peaks:
        return Target("peak RSS < 300 MB", b, "not measured", None)
    peak = max(peaks)
    name = f"peak RSS < {RSS_LIMIT_MB:.0f} MB and <= 1.5x at N/10"
    before = (previous or {}).get(b)
    if before is None:
        return Target(name, b, f"{peak:.0f} MB (no N/10 figure saved)", peak < RSS_LIMIT_MB)
    growth = peak / before
    measured = f"{peak:.0f} MB, {growth:.2f}x the {before:.0f} MB at N/10"
    return Target(name, b, measured, peak < RSS_LIMIT_MB and growth <= 1.5)


def _enqueue_target(res: Results, b: str) -> Target:
    data = res.enqueue.get(b)
    name = "enqueue -> job id < 50 ms (median of 20)"
    if not data or data.get("seconds") is None:
        missing = (data or {}).get("missing", "not measured")
        return Target(name, b, f"n/a ({missing})", None)
    return _limit(name, b, float(data["seconds"]) * 1000, ENQUEUE_LIMIT_S * 1000, " ms")


_TARGET_OF = {
    "export": EXPORT_TARGET,
    "import": "import <= 1.5x minimal floor",
    "sync, no change": "no-change sync <= 2x walk, 0 reads",
    "sync, 1 file changed": "1 changed file <= no-change + 50 ms",
    "export, sequential": "export: parallel >= 2x faster than sequential",
    "import, sequential": "import: parallel >= 2x faster than sequential",
}


def _row(res: Results, m: Measure, verdicts: dict[tuple[str, str], Target]) -> str:
    rss = f"{m.peak_rss:.0f}" if m.peak_rss else "-"
    spread = f"{min(m.seconds):.3f}-{max(m.seconds):.3f}"
    ratios = "; ".join(p for p in _compare(res, m) if p) or "-"
    name = _TARGET_OF.get(m.scenario)
    target = verdicts.get((name, m.backend)) if name else None
    goal = f"{target.name} | {target.verdict}" if target else "- | -"
    cells = [m.scenario, m.backend, str(m.n), str(len(m.seconds)), f"{m.median:.3f}", spread,
             f"{m.per_item * 1000:.3f}", rss, ratios, goal]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def _order(res: Results) -> list[Measure]:
    first = ["tar -x", WRITER_FLOOR, "tar -c to pipe", "scandir+stat walk", "minimal floor import"]
    names = list(dict.fromkeys(first + [s for s, _ in res.measures]))
    backends = ["fs", *res.backends]
    return [m for s in names for b in backends if (m := res.get(s, b))]


def render(res: Results, found: list[Target]) -> str:
    """The whole report as markdown."""
    verdicts = {(t.name, t.backend): t for t in found}
    lines = [f"# brainsync benchmark, N = {res.size}", "", *[f"- {n}" for n in res.notes], ""]
    lines += ["| scenario | backend | N | runs | median s | min-max s | ms/item | peak RSS MB "
              "| vs baselines | target | result |", "|" + "---|" * 11]  # fmt: skip
    lines += [_row(res, m, verdicts) for m in _order(res)]
    scale = "" if res.size == 100_000 else f" (stated for 100k; checked here at N = {res.size})"
    lines += ["", f"## Targets{scale}", "", "| target | backend | measured | result |",
              "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {t.name} | {t.backend} | {t.measured} | {t.verdict} |" for t in found]
    return "\n".join(lines) + "\n"


def save_json(res: Results, path: Path) -> None:
    """The raw figures, so a later run at 10x the size can compare its peak RSS."""
    data: dict[str, Any] = {
        "size": res.size,
        "measures": [asdict(m) for m in res.measures.values()],
        "enqueue": res.enqueue,
        "peak_rss": {b: _peak(res, b) for b in res.backends},
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _peak(res: Results, b: str) -> float | None:
    peaks = [m.peak_rss for s in PRODUCT if (m := res.get(s, b)) and m.peak_rss]
    return max(peaks) if peaks else None


def load_peak_rss(path: Path) -> dict[str, float] | None:
    """The per-backend peak RSS saved by an earlier run, if there is one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {b: float(v) for b, v in data.get("peak_rss", {}).items() if v}
