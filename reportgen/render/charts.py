"""Chart specs (Vega-Lite, built with Altair) for the write-up, each with a text alternative.

Every chart has a title, axis labels, tooltips and a small table that says the
same thing for screen readers and print. Specs carry their data inline, so the
page needs nothing from the network. Data values that came from logs are only
ever data here, never markup: the page embeds the spec as escaped JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import altair as alt
import duckdb
from altair.utils.schemapi import debug_mode

from reportgen.analyses.clocks import to_reference
from reportgen.model import Finding, SignificantEvent

WIDTH = 680
MAX_POINTS = 2500
"""Attacker-activity points per chart (sampled evenly beyond this)."""
CATEGORY_COLORS = {"malicious": "#c0392b", "benign": "#2e86c1", "infrastructure": "#7f8c8d"}
AFFECT_COLORS = {"yes": "#c0392b", "indirectly": "#e67e22", "unknown": "#95a5a6", "no": "#2e86c1"}


@dataclass(frozen=True)
class Chart:
    """One chart: its spec and its text alternative."""

    id: str
    title: str
    description: str
    spec: dict[str, Any]
    table_head: tuple[str, ...]
    table_rows: tuple[tuple[str, ...], ...]


VALIDATE = False
"""Check every spec against the Vega-Lite schema. Altair checks every object as it
is made and again when it is written, walking every data value (a third of a
second for a chart of a few thousand points), so reports skip it; the tests turn
it on and build every chart of a report."""

Builder = TypeVar("Builder", bound=Callable[..., Any])


def _checked(build: Builder) -> Builder:
    """Build a chart with Altair's schema checks on only when :data:`VALIDATE` is."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with debug_mode(VALIDATE):
            return build(*args, **kwargs)

    return cast(Builder, wrapper)


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict(validate=VALIDATE)
    spec.pop("$schema", None)  # no network address in the page
    return spec


def _config(chart: Any) -> Any:
    return chart.configure_view(strokeWidth=0).configure_axis(labelLimit=220)


@_checked
def timeline(
    events: list[SignificantEvent], compromises: list[dict[str, Any]], reference: str | None
) -> Chart:
    """Significant events on the reference clock, one lane per host/source, by category."""
    rows = []
    for e in events:
        t = e.reference or e.reading
        lane = e.clock if e.clock == e.host or not e.host else f"{e.host} (via {e.clock})"
        rows.append(
            {
                "id": e.id,
                "time": t[:19],
                "lane": lane,
                "category": e.category,
                "kind": e.kind,
                "summary": e.summary[:200],
                "clock": reference if e.reference else e.clock,
            }
        )
    windows = [
        {
            "id": c["id"],
            "start": c["start"][:19],
            "end": c["end"][:19] if c["end"] > c["start"] else c["start"][:19],
        }
        for c in compromises
    ]
    base = alt.Chart(alt.Data(values=rows))
    points = base.mark_point(filled=True, size=70, opacity=0.85).encode(
        x=alt.X("time:T", title=f"time on the reference clock ({reference})"),
        y=alt.Y("lane:N", title="host / sensor"),
        color=alt.Color(
            "category:N",
            title="category",
            scale=alt.Scale(domain=list(CATEGORY_COLORS), range=list(CATEGORY_COLORS.values())),
        ),
        shape=alt.Shape("category:N", legend=None),
        tooltip=[
            alt.Tooltip("id:N", title="event"),
            alt.Tooltip("time:T", title="time", format="%Y-%m-%d %H:%M:%S"),
            alt.Tooltip("clock:N"),
            alt.Tooltip("kind:N"),
            alt.Tooltip("summary:N"),
        ],
    )
    layers: list[Any] = []
    if windows:
        layers.append(
            alt.Chart(alt.Data(values=windows))
            .mark_rect(opacity=0.12, color="#c0392b")
            .encode(x="start:T", x2="end:T", tooltip=[alt.Tooltip("id:N", title="compromise")])
        )
    layers.append(points)
    chart = alt.layer(*layers).properties(
        width=WIDTH,
        height=max(120, 40 * len({r["lane"] for r in rows})),
        title="Significant events",
    )
    return Chart(
        "chart-timeline",
        "Significant events",
        "Each significant event on the reference clock, one lane per host or sensor, "
        "coloured by category; shaded spans are the compromises.",
        _spec(_config(chart)),
        ("event", "time", "lane", "category", "summary"),
        tuple(
            (str(r["id"]), str(r["time"]), str(r["lane"]), str(r["category"]), str(r["summary"]))
            for r in rows[:60]
        ),
    )


@_checked
def volume(con: duckdb.DuckDBPyConnection) -> Chart:
    """Lines per source per day, so gaps and spikes show."""
    rows = [
        {"source": f"{src} @ {host}", "day": day, "lines": n}
        for src, host, day, n in con.execute(
            """SELECT source, coalesce(host, '?'), strftime(reading, '%Y-%m-%d'), count(*) FROM events
        GROUP BY ALL ORDER BY 1, 2, 3"""
        ).fetchall()
    ]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True, strokeWidth=1.5)
        .encode(
            x=alt.X("day:T", title="day (each source's own clock)"),
            y=alt.Y("lines:Q", title="lines per day", scale=alt.Scale(type="symlog")),
            color=alt.Color("source:N", title="source @ host"),
            tooltip=[
                "source:N",
                alt.Tooltip("day:T", format="%Y-%m-%d"),
                alt.Tooltip("lines:Q", format=","),
            ],
        )
        .properties(width=WIDTH, height=240, title="Log volume per source per day")
    )
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["source"]] = totals.get(r["source"], 0) + r["lines"]
    return Chart(
        "chart-volume",
        "Log volume per source per day",
        "Lines per day for each source (log scale): gaps are days a source was silent, "
        "spikes are bursts of activity.",
        _spec(_config(chart)),
        ("source", "days", "lines"),
        tuple(
            (s, str(sum(1 for r in rows if r["source"] == s)), f"{n:,}") for s, n in totals.items()
        ),
    )


def _bars(rows: list[dict[str, Any]], x_title: str, y_title: str | None, title: str) -> Any:
    """Horizontal bars coloured by whether the family could affect the target."""
    scale = alt.Scale(domain=list(AFFECT_COLORS), range=list(AFFECT_COLORS.values()))
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title=x_title),
            y=alt.Y("label:N", sort="-x", title=y_title),
            color=alt.Color("could_affect:N", title="could affect the target", scale=scale),
            tooltip=[
                alt.Tooltip("label:N", title=y_title or "signature"),
                alt.Tooltip("count:Q", format=",", title=x_title),
                "family:N",
                "could_affect:N",
            ],
        )
        .properties(width=WIDTH - 260, height=18 * max(1, len(rows)), title=title)
    )


@_checked
def noise(noise_finding: Finding) -> list[Chart]:
    """Noise families over time, top signatures and ports, split by whether they could matter."""
    data = noise_finding.data
    fams = data["families"]
    daily = [
        {
            "family": f["name"],
            "day": d["day"],
            "records": d["count"],
            "could_affect": f["could_affect"],
        }
        for f in fams
        for d in f["daily"]
    ]
    over_time = (
        alt.Chart(alt.Data(values=daily))
        .mark_area(opacity=0.85)
        .encode(
            x=alt.X("day:T", title="day (sensors' clock)"),
            y=alt.Y("records:Q", title="records per day", stack="zero"),
            color=alt.Color("family:N", title="family", sort=[f["name"] for f in fams]),
            tooltip=[
                "family:N",
                alt.Tooltip("day:T", format="%Y-%m-%d"),
                alt.Tooltip("records:Q", format=","),
                "could_affect:N",
            ],
        )
        .properties(width=WIDTH, height=260, title="Noise families over time")
    )
    affects = {f["key"]: f["could_affect"] for f in fams}
    sigs = _bars(
        [
            {
                "label": s["signature"][:70],
                "count": s["alerts"],
                "family": s["family_name"],
                "could_affect": affects.get(s["family"], "unknown"),
            }
            for s in data["top_signatures"]
        ],
        "IDS alerts",
        None,
        "Top IDS signatures",
    )
    ports = _bars(
        [
            {
                "label": p["port"],
                "count": p["packets"],
                "family": p["family_name"],
                "could_affect": affects.get(p["family"], "unknown"),
            }
            for p in data["top_ports"]
        ],
        "firewall packets",
        "destination port",
        "Top destination ports",
    )
    return [
        Chart(
            "chart-noise",
            "Noise families over time",
            "Inbound records per day, stacked by family.",
            _spec(_config(over_time)),
            ("family", "records", "sources", "could affect"),
            tuple(
                (f["name"], f"{f['records']:,}", f"{f['sources']:,}", f["could_affect"])
                for f in fams
            ),
        ),
        Chart(
            "chart-signatures",
            "Top IDS signatures",
            "The most frequent IDS alerts, coloured by whether their family could affect the target.",
            _spec(_config(sigs)),
            ("signature", "alerts", "family"),
            tuple(
                (s["signature"], f"{s['alerts']:,}", s["family_name"])
                for s in data["top_signatures"]
            ),
        ),
        Chart(
            "chart-ports",
            "Top destination ports",
            "The most probed destination ports in the firewall log.",
            _spec(_config(ports)),
            ("port", "packets", "family"),
            tuple((p["port"], f"{p['packets']:,}", p["family_name"]) for p in data["top_ports"]),
        ),
    ]


@_checked
def clocks(clock_finding: Finding) -> Chart:
    """Matched pairs over time with the fitted line, per pair of clocks."""
    rows = []
    for p in clock_finding.data["pairs"]:
        pair = f"{p['clock']} − {p['other']}"
        for s in p["samples"]:
            rows.append(
                {
                    "pair": pair,
                    "time": s["t"][:19],
                    "offset": s["d"] - p["median_s"],
                    "median": p["median_s"],
                }
            )
    base = alt.Chart(alt.Data(values=rows))
    dots = base.mark_circle(size=14, opacity=0.5).encode(
        x=alt.X("time:T", title="time (first clock's reading)"),
        y=alt.Y("offset:Q", title="difference from the median offset (s)"),
        color=alt.Color("pair:N", title="clocks"),
        tooltip=[
            "pair:N",
            alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S"),
            alt.Tooltip("offset:Q", format="+.0f", title="seconds from median"),
            alt.Tooltip("median:Q", format="+.0f", title="median offset (s)"),
        ],
    )
    line = (
        base.transform_regression("time", "offset", groupby=["pair"])
        .mark_line()
        .encode(x="time:T", y="offset:Q", color="pair:N")
    )
    chart = alt.layer(dots, line).properties(
        width=WIDTH, height=260, title="Clock offsets and drift"
    )
    return Chart(
        "chart-clocks",
        "Clock offsets and drift",
        "Each dot is one observation seen by two clocks, drawn as its difference from the "
        "pair's median offset; the line is the least-squares fit (its slope is the drift).",
        _spec(_config(chart)),
        ("clocks", "pairs", "median offset (s)", "spread (s)", "drift (s/day)"),
        tuple(
            (
                f"{p['clock']} − {p['other']}",
                f"{p['n']:,}",
                f"{p['median_s']:+.0f}",
                f"{p['mad_s']:.0f}",
                f"{p['drift_s_per_day']:+.2f}",
            )
            for p in clock_finding.data["pairs"]
        ),
    )


@_checked
def attackers(
    con: duckdb.DuckDBPyConnection, compromise_finding: Finding, clock_finding: Finding
) -> Chart:
    """One lane per actor: every record of its addresses, across sources, on the reference clock."""
    actors = compromise_finding.data["actors"]
    offsets = clock_finding.data["offsets"]
    rows = []
    for a in actors:
        # Sampled evenly in SQL: a busy actor may have millions of records.
        total = con.execute(
            "SELECT count(*) FROM events WHERE src_ip IN (SELECT unnest(?))", [a["addresses"]]
        ).fetchone()
        step = max(1, (total[0] if total else 0) // (MAX_POINTS // max(1, len(actors))))
        found = con.execute(
            """SELECT clock, source, reading, kind FROM (
                SELECT coalesce(e.host, 'file ' || s.rotation_set) AS clock, e.source, e.reading,
                       e.kind, row_number() OVER (ORDER BY e.ts, e.file, e.line) AS i
                FROM events e JOIN sources s USING (file_id)
                WHERE e.src_ip IN (SELECT unnest(?))) WHERE (i - 1) % ? = 0 ORDER BY i""",
            [a["addresses"], step],
        ).fetchall()
        for clock, source, reading, kind in found:
            ref = to_reference(offsets, clock, reading)
            rows.append(
                {
                    "actor": a["id"],
                    "source": source,
                    "kind": kind,
                    "time": (ref or reading).isoformat()[:19],
                }
            )
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_tick(thickness=2, size=18)
        .encode(
            x=alt.X("time:T", title="time on the reference clock"),
            y=alt.Y("actor:N", title="actor"),
            color=alt.Color("source:N", title="seen in"),
            tooltip=[
                "actor:N",
                "source:N",
                "kind:N",
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S"),
            ],
        )
        .properties(width=WIDTH, height=max(80, 36 * len(actors)), title="Attacker activity")
    )
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[(r["actor"], r["source"])] = counts.get((r["actor"], r["source"]), 0) + 1
    return Chart(
        "chart-attackers",
        "Attacker activity",
        "Every record of each actor's addresses, one lane per actor, coloured by the source "
        "that recorded it.",
        _spec(_config(chart)),
        ("actor", "source", "records shown"),
        tuple((a, s, f"{n:,}") for (a, s), n in sorted(counts.items())),
    )
