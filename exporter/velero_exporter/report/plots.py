"""Inline SVG for the HTML report: each tier's recovery point age against its RPO, and the compliance bars.

Plain SVG elements with fixed sizes, so a browser prints them as they are shown; no script, no external asset.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from velero_exporter.report.document import Report, TierEvidence
from velero_exporter.report.intervals import Compliance
from velero_exporter.report.window import Window
from velero_exporter.report.wording import percent, span

COMPLIANT = "#2da44e"
VIOLATED = "#cf222e"
VIOLATED_BACKGROUND = "#ffcecb"
UNKNOWN = "#afb8c1"
UNKNOWN_BACKGROUND = "#eaeef2"
AGE = "#0969da"
INK = "#57606a"

WIDTH, HEIGHT = 720, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 10, 30


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}"


class _Frame:
    """Maps the window's time and an age range onto the plot's pixels."""

    def __init__(self, window: Window, top_age: float) -> None:
        self.window = window
        self.top_age = top_age
        self.width = WIDTH - LEFT - RIGHT
        self.height = HEIGHT - TOP - BOTTOM

    def x(self, t: float) -> float:
        w = self.window
        return LEFT + (t - w.start) / (w.end - w.start) * self.width

    def y(self, age: float) -> float:
        return TOP + self.height * (1 - min(age, self.top_age) / self.top_age)

    def slice(self, c: int, columns: int) -> tuple[float, float]:
        """The times that column c of `columns` equal slices covers."""
        w = self.window
        return w.start + c / columns * (w.end - w.start), w.start + (c + 1) / columns * (w.end - w.start)

    def band(self, start: float, end: float, color: str) -> str:
        x0, x1 = self.x(start), self.x(end)
        return f'<rect x="{_n(x0)}" y="{TOP}" width="{_n(max(x1 - x0, 0.6))}" height="{self.height}" fill="{color}"/>'


def _tick_label(t: float, window: Window) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%m-%d %H:%M" if window.end - window.start <= 3 * 86400 else "%Y-%m-%d")


def _axes(frame: _Frame, ticks: int = 6) -> list[str]:
    """Three age grid lines (0, half, the top) and dates along the bottom."""
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        age = frame.top_age / 1.1 * fraction
        y = _n(frame.y(age))
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + frame.width}" y1="{y}" y2="{y}" stroke="#d0d7de"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{_n(frame.y(age) + 4)}" text-anchor="end" font-size="11" fill="{INK}">'
            f"{_e(span(age))}</text>"
        )
    w = frame.window
    for i in range(ticks):
        t = w.start + (w.end - w.start) * i / (ticks - 1)
        parts.append(
            f'<text x="{_n(frame.x(t))}" y="{HEIGHT - 12}" text-anchor="middle" font-size="11" fill="{INK}">'
            f"{_e(_tick_label(t, w))}</text>"
        )
    return parts


def _rpo_line(frame: _Frame, profile: Sequence[float | None]) -> list[str]:
    """The RPO in force, as a dashed step line over the slices."""
    parts = []
    for c, rpo in enumerate(profile):
        if rpo is not None:
            t0, t1 = frame.slice(c, len(profile))
            y = _n(frame.y(rpo))
            parts.append(
                f'<line x1="{_n(frame.x(t0))}" x2="{_n(frame.x(t1))}" y1="{y}" y2="{y}" stroke="{VIOLATED}" '
                'stroke-width="1.5" stroke-dasharray="4 3"/>'
            )
    return parts


def _age_lines(frame: _Frame, profile: Sequence[float | None]) -> list[str]:
    """The worst age of each slice, joined into lines broken where a slice is unknown; a slice without any
    recovery point is a red tick at the top."""
    parts = []
    line: list[str] = []
    for c, age in enumerate([*profile, None]):
        if age is None or math.isinf(age):
            if line:
                parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="{AGE}" stroke-width="1.5"/>')
            line = []
            if age is not None:
                x = _n(frame.x(frame.slice(c, len(profile))[0]))
                parts.append(f'<rect x="{x}" y="{TOP}" width="2" height="6" fill="{VIOLATED}"/>')
            continue
        t0, t1 = frame.slice(c, len(profile))
        line.append(f"{_n(frame.x((t0 + t1) / 2))},{_n(frame.y(age))}")
    return parts


def age_plot(window: Window, tier: TierEvidence, compliance: Compliance) -> str:
    """The worst recovery point age per slice of the window (line), the RPO (dashed), violations (red) and
    unknown time (grey)."""
    finite = [a for a in tier.age_profile if a is not None and math.isfinite(a)]
    rpos = [r for r in tier.rpo_profile if r is not None]
    frame = _Frame(window, max([*finite, *rpos, 1.0]) * 1.1)
    return "".join(
        [
            f'<svg class="plot" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
            f"<title>Recovery point age of tier {_e(tier.tier)} against its RPO</title>",
            f'<rect x="{LEFT}" y="{TOP}" width="{frame.width}" height="{frame.height}" fill="#fff"/>',
            *(frame.band(i.start, i.end, UNKNOWN_BACKGROUND) for i in compliance.unknown),
            *(frame.band(v.start, v.end, VIOLATED_BACKGROUND) for v in compliance.violations),
            *_axes(frame),
            *_rpo_line(frame, tier.rpo_profile),
            *_age_lines(frame, tier.age_profile),
            f'<rect x="{LEFT}" y="{TOP}" width="{frame.width}" height="{frame.height}" fill="none" '
            f'stroke="{UNKNOWN}"/>',
            "</svg>",
        ]
    )


BAR_LABEL, BAR_WIDTH, BAR_HEIGHT, BAR_GAP = 150, 460, 16, 8


def compliance_bars(report: Report) -> str:
    """One bar per tier with objectives: the window's share that met the RPO, that did not, and that is
    unknown."""
    tiers = [(t, t.compliance) for t in report.tiers if t.compliance is not None]
    height = len(tiers) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    width = BAR_LABEL + BAR_WIDTH + 90
    parts = [
        f'<svg class="bars" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>Share of the window that met the RPO, per tier</title>'
    ]
    total = report.window.seconds
    for row, (tier, c) in enumerate(tiers):
        y = BAR_GAP + row * (BAR_HEIGHT + BAR_GAP)
        name = f"{tier.cluster} / {tier.tier}" if tier.cluster else tier.tier
        parts.append(
            f'<text x="{BAR_LABEL - 6}" y="{y + 12}" text-anchor="end" font-size="12" fill="#1b1f24">{_e(name)}</text>'
        )
        x = float(BAR_LABEL)
        shares: tuple[tuple[float, str], ...] = (
            (c.compliant_seconds, COMPLIANT),
            (c.known_seconds - c.compliant_seconds, VIOLATED),
            (total - c.known_seconds, UNKNOWN),
        )
        for seconds, color in shares:
            w = BAR_WIDTH * seconds / total if total else 0.0
            if w > 0:
                parts.append(f'<rect x="{_n(x)}" y="{y}" width="{_n(w)}" height="{BAR_HEIGHT}" fill="{color}"/>')
            x += w
        parts.append(
            f'<text x="{BAR_LABEL + BAR_WIDTH + 6}" y="{y + 12}" font-size="12" fill="#1b1f24">'
            f"{_e(percent(c.ratio))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
