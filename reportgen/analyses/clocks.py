"""Q5, time: do the clocks of the sources agree, by how much do they differ, with drift?

Each host is a clock (files that name no host are a clock of their own). Two
clocks are compared through observations both recorded: the same packet seen by
the firewall and the IDS, a web request and the firewall SYN or IDS alert that
carried it, an SSH connection and its SYN. The matchers are data (:data:`MATCHERS`).

For each pair of clocks: a coarse pass finds the dominant difference (the
histogram mode, whole minutes, over a day either way, so zone differences of
hours are found too); a fine pass keeps, for each observation, the nearest
counterpart within :data:`TOLERANCE_S` of it, and only unambiguous ones. The
offset is the median of the differences (a robust estimate), with its median
absolute deviation, the number of pairs, and a least-squares line for drift.

``reading offset`` is this clock's reading minus the other's at the same
instant, as written in the logs; the ``implied error`` removes the zone
difference the store assumed, leaving what the clocks themselves got wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from reportgen import store
from reportgen.clock import format_offset
from reportgen.model import Finding

NAME = "clocks"
TITLE = "Q5 · Time: do the clocks agree?"

TOLERANCE_S = 180
"""Fine-pass window around the coarse offset, seconds."""
SEARCH_S = 86_400
"""Coarse search window: differences up to a day either way (zones, wrong dates)."""
MAX_CANDIDATES = 3
"""An observation with more counterparts than this within the window is ambiguous, and
so is one whose counterparts went to different destinations (a sweep of a network)."""
MIN_PAIRS = 3
"""Fewer matched pairs than this cannot settle an offset."""
HIGH_PAIRS, HIGH_MAD_S = 30, 30.0
"""High confidence: at least this many pairs, spread (MAD) at most this."""
DRIFT_MIN_S = 5.0
"""A drift is reported when it moves the offset by more than this (and twice the
spread) over the period the pairs cover, and is over three standard errors."""
SAMPLE_POINTS = 300
"""Matched pairs kept per clock pair for the chart."""


@dataclass(frozen=True)
class Matcher:
    """Two kinds of event that record the same network observation."""

    name: str
    left: str
    """``kind LIKE`` pattern of the left events."""
    right: str
    keys: tuple[str, ...]
    left_where: str = "TRUE"
    right_where: str = "TRUE"
    addresses: bool = False
    """The right side's destination is an address of the left clock's host."""


WEB_PORTS = "(80, 443, 8080, 8000, 8443)"
MATCHERS: tuple[Matcher, ...] = (
    Matcher(
        "IDS alert and firewall log of the same packet",
        "snort:alert",
        "netfilter:packet",
        ("src_ip", "src_port", "dst_ip", "dst_port"),
        "src_port IS NOT NULL",
    ),
    Matcher(
        "web request and the firewall SYN that opened it",
        "apache:access",
        "netfilter:packet",
        ("src_ip",),
        right_where=f"dst_port IN {WEB_PORTS}",
        addresses=True,
    ),
    Matcher(
        "web request and the IDS alert on it",
        "apache:access",
        "snort:alert",
        ("src_ip",),
        right_where=f"dst_port IN {WEB_PORTS}",
        addresses=True,
    ),
    Matcher(
        "SSH connection and its firewall SYN",
        "syslog:sshd:%",
        "netfilter:packet",
        ("src_ip",),
        "src_ip IS NOT NULL",
        "dst_port = 22",
        addresses=True,
    ),
    Matcher(
        "SSH connection and the IDS alert on it",
        "syslog:sshd:%",
        "snort:alert",
        ("src_ip",),
        "src_ip IS NOT NULL",
        "dst_port = 22",
        addresses=True,
    ),
    Matcher(
        "mail connection and its firewall SYN",
        "syslog:sendmail:%",
        "netfilter:packet",
        ("src_ip",),
        "src_ip IS NOT NULL",
        "dst_port = 25",
        addresses=True,
    ),
)


def clock_table(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``clock_of(file_id, clock)``: each file's clock (its host, or the file),
    and temp table ``ev``: the events with a file that names no host standing as its own
    host, which is how every later analysis sees them."""
    con.execute("""CREATE OR REPLACE TEMP TABLE clock_of AS
        SELECT file_id, coalesce(host, 'file ' || rotation_set) AS clock FROM sources""")
    # Materialized once, without the raw lines (evidence reads those from ``events``):
    # the analyses query it dozens of times, and the view recomputes years and zones.
    con.execute("""CREATE OR REPLACE TEMP TABLE ev AS
        SELECT e.* EXCLUDE (raw, raw_bytes) REPLACE (coalesce(e.host, c.clock) AS host)
        FROM events e JOIN clock_of c USING (file_id)""")


def _collect_pairs(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``clock_pairs``: every unambiguous matched pair of every matcher, oriented
    so that ``a < b`` and ``d`` = a's reading minus b's (seconds); statistics run in SQL,
    since a large bundle has millions of pairs."""
    con.execute("""CREATE OR REPLACE TEMP TABLE clock_pairs (matcher VARCHAR, a VARCHAR,
        b VARCHAR, t TIMESTAMP, d DOUBLE, left_clock VARCHAR, r_dst VARCHAR, lf VARCHAR,
        ll BIGINT, rf VARCHAR, rl BIGINT, addresses BOOLEAN)""")
    for m in MATCHERS:
        on = " AND ".join(f"l.{k} = r.{k}" for k in m.keys)
        keys = ", ".join(m.keys)
        side = f"""SELECT c.clock, e.reading, e.file, e.line, {{dst}} {keys}
                   FROM ev e JOIN clock_of c USING (file_id) WHERE e.kind LIKE '{{kind}}' AND {{where}}"""
        left = side.format(dst="", kind=m.left, where=m.left_where)
        right = side.format(dst="e.dst_ip AS r_dst,", kind=m.right, where=m.right_where)
        # Coarse pass: the most common whole-minute difference per pair of clocks, from
        # the right side counted per key and minute, so that its cost is bounded by
        # the left events times the minutes of the search window, whatever the volume.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE clock_modes AS
        WITH l AS ({left}),
             r AS (SELECT clock, {keys}, time_bucket(INTERVAL 1 MINUTE, reading) AS minute,
                          count(*) AS n FROM ({right}) GROUP BY ALL)
        SELECT lc, rc, arg_max(offset_min, weight) * 60 AS m FROM (
            SELECT l.clock AS lc, r.clock AS rc,
                   round((epoch(l.reading) - epoch(r.minute) - 30) / 60) AS offset_min,
                   sum(r.n) AS weight
            FROM l JOIN r ON {on}
             AND r.minute BETWEEN l.reading - INTERVAL {SEARCH_S + 60} SECOND
                              AND l.reading + INTERVAL {SEARCH_S} SECOND
            WHERE l.clock <> r.clock GROUP BY ALL) GROUP BY ALL""")
        # Fine pass: within TOLERANCE_S of that offset, each left event's nearest
        # counterpart, kept only when it is unambiguous. Grouping (not a window) keeps
        # memory bounded: DuckDB spills large aggregates to disk.
        con.execute(f"""INSERT INTO clock_pairs
        WITH l AS ({left}), r AS ({right}),
             cand AS (SELECT l.clock AS lc, r.clock AS rc, l.reading AS lr, l.file AS lf,
                             l.line AS ll, r.file AS rf, r.line AS rl, r.r_dst,
                             epoch(l.reading) - epoch(r.reading) AS d, mo.m
                      FROM l JOIN clock_modes mo ON mo.lc = l.clock
                      JOIN r ON {on} AND r.clock = mo.rc
                       AND r.reading BETWEEN l.reading - to_seconds(mo.m + {TOLERANCE_S})
                                         AND l.reading - to_seconds(mo.m - {TOLERANCE_S})),
             near AS (SELECT lf, ll, count(*) AS n_cand, count(DISTINCT r_dst) AS n_dst,
                             arg_min({{'lc': lc, 'rc': rc, 'lr': lr, 'rf': rf, 'rl': rl,
                                       'r_dst': r_dst, 'd': d}}, (abs(d - m), rf, rl)) AS best
                      FROM cand GROUP BY lf, ll)
        SELECT '{m.name}', least(best.lc, best.rc), greatest(best.lc, best.rc), best.lr,
               CASE WHEN best.lc < best.rc THEN best.d ELSE -best.d END, best.lc, best.r_dst,
               lf, ll, best.rf, best.rl, {str(m.addresses).upper()}
        FROM near WHERE n_cand <= {MAX_CANDIDATES} AND n_dst = 1""")


def pair_statistics(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per pair of clocks in ``clock_pairs``: robust offset, spread, and a least-squares
    drift (seconds per day) with its standard error."""
    rows = store.rows(
        con,
        """
        WITH base AS (SELECT a, b, min(t) AS t0, median(d) AS med FROM clock_pairs GROUP BY a, b),
             x AS (SELECT p.a, p.b, d, abs(d - base.med) AS dev,
                          (epoch(p.t) - epoch(base.t0)) / 86400.0 AS days
                   FROM clock_pairs p JOIN base USING (a, b))
        SELECT x.a, x.b, count(*) AS n, any_value(base.med) AS median_s,
               median(dev) AS mad_s, quantile_cont(d, 0.05) AS p05_s,
               quantile_cont(d, 0.95) AS p95_s, regr_slope(d, days) AS slope,
               regr_intercept(d, days) AS intercept, regr_sxx(d, days) AS sxx,
               regr_syy(d, days) AS syy, regr_sxy(d, days) AS sxy,
               max(days) - min(days) AS span_days, any_value(base.t0) AS t0
        FROM x JOIN base USING (a, b) GROUP BY x.a, x.b ORDER BY x.a, x.b""",
    )
    out = []
    for r in rows:
        n, slope, sxx = r["n"], r["slope"], r["sxx"]
        stderr = 0.0
        if n > 2 and sxx and slope is not None and r["span_days"] > 0.01:
            residual = max(r["syy"] - slope * r["sxy"], 0.0)
            stderr = math.sqrt(residual / (n - 2) / sxx)
        else:
            slope, r["intercept"] = 0.0, r["median_s"]
        drift_real = (
            n >= 10
            and abs(slope) > 3 * stderr
            and abs(slope) * r["span_days"] > max(2 * r["mad_s"], DRIFT_MIN_S)
        )
        out.append(
            {
                "clock": r["a"],
                "other": r["b"],
                "n": n,
                "median_s": round(r["median_s"], 1),
                "mad_s": round(r["mad_s"], 1),
                "p05_s": round(r["p05_s"], 1),
                "p95_s": round(r["p95_s"], 1),
                "drift_s_per_day": round(slope, 2),
                "drift_stderr": round(stderr, 2),
                "drift_significant": drift_real,
                "intercept_s": round(r["intercept"], 1),
                "t0": r["t0"].isoformat(),
                "span_days": round(r["span_days"], 2),
            }
        )
    return out


def _confidence(stats: dict[str, Any]) -> str:
    if stats["n"] < MIN_PAIRS:
        return "none"
    if stats["n"] >= HIGH_PAIRS and stats["mad_s"] <= HIGH_MAD_S:
        return "high"
    return "medium" if stats["n"] >= 10 else "low"


def _zones(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    rows = con.execute("""
        SELECT c.clock, list(DISTINCT s.format ORDER BY s.format), count(DISTINCT s.file_id),
               sum(s.events), mode(e.utc_offset), any_value(s.zone), any_value(s.zone_basis),
               any_value(s.host)
        FROM sources s JOIN clock_of c USING (file_id)
        LEFT JOIN (SELECT file_id, mode(utc_offset) AS utc_offset FROM ev GROUP BY file_id) e
             USING (file_id)
        WHERE s.events > 0 GROUP BY c.clock ORDER BY c.clock""").fetchall()
    return {
        clock: {
            "id": clock,
            "host": host,
            "formats": formats,
            "files": files,
            "events": int(events),
            "utc_offset_s": offset,
            "zone": zone,
            "zone_basis": basis,
        }
        for clock, formats, files, events, offset, zone, basis, host in rows
    }


def analyze(con: duckdb.DuckDBPyConnection) -> Finding:
    """Measure the offset and drift between every pair of clocks that share observations."""
    clock_table(con)
    clocks = _zones(con)
    _collect_pairs(con)
    pairs = []
    for stats in pair_statistics(con):
        a, b = stats["clock"], stats["other"]
        za, zb = clocks[a]["utc_offset_s"] or 0, clocks[b]["utc_offset_s"] or 0
        matchers = dict(
            con.execute(
                """SELECT matcher, count(*) FROM clock_pairs
            WHERE a = ? AND b = ? GROUP BY 1 ORDER BY 1""",
                [a, b],
            ).fetchall()
        )
        step = max(1, stats["n"] // SAMPLE_POINTS)
        samples = con.execute(
            """SELECT t, d FROM (SELECT t, d, row_number() OVER
            (ORDER BY t, lf, ll) AS i FROM clock_pairs WHERE a = ? AND b = ?)
            WHERE i % ? = 0 ORDER BY t""",
            [a, b, step],
        ).fetchall()
        examples = store.rows(
            con,
            """SELECT lf, ll, rf, rl, d, matcher FROM (SELECT *,
            row_number() OVER (ORDER BY t, lf, ll) AS i FROM clock_pairs WHERE a = ? AND b = ?)
            WHERE i % ? = 0 ORDER BY t LIMIT 5""",
            [a, b, max(1, stats["n"] // 5)],
        )
        pairs.append(
            {
                **stats,
                "confidence": _confidence(stats),
                "matchers": matchers,
                "zone_difference_s": za - zb,
                "implied_error_s": round(stats["median_s"] - (za - zb), 1),
                "samples": [{"t": t.isoformat(), "d": d} for t, d in samples],
                "examples": [
                    {
                        "left": [e["lf"], e["ll"]],
                        "right": [e["rf"], e["rl"]],
                        "difference_s": e["d"],
                        "matcher": e["matcher"],
                    }
                    for e in examples
                ],
            }
        )
    addresses: dict[str, list[tuple[str, int]]] = {}
    for clock, dst, n in con.execute("""SELECT left_clock, r_dst, count(*) FROM clock_pairs
            WHERE addresses AND r_dst IS NOT NULL GROUP BY ALL ORDER BY 1, 3 DESC, 2""").fetchall():
        host = clocks.get(clock, {}).get("host")
        if host:
            addresses.setdefault(host, []).append((dst, n))
    usable = [p for p in pairs if p["confidence"] != "none"]
    reference = _reference(clocks, usable)
    offsets = _offsets_to(reference, clocks, usable)
    data = {
        "clocks": list(clocks.values()),
        "pairs": pairs,
        "reference": reference,
        "offsets": offsets,
        "addresses": addresses,
        "method": {
            "matchers": [m.name for m in MATCHERS],
            "tolerance_s": TOLERANCE_S,
            "search_s": SEARCH_S,
            "min_pairs": MIN_PAIRS,
        },
    }
    return Finding(NAME, TITLE, _narrative(data), data)


def _reference(clocks: dict[str, dict[str, Any]], pairs: list[dict[str, Any]]) -> str | None:
    """The clock most tied to the others (most matched pairs), else the busiest."""
    if not clocks:
        return None
    weight = {c: 0 for c in clocks}
    for p in pairs:
        weight[p["clock"]] += p["n"]
        weight[p["other"]] += p["n"]
    return max(clocks, key=lambda c: (weight[c], clocks[c]["events"], c))


def _offsets_to(
    reference: str | None, clocks: dict[str, dict[str, Any]], pairs: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each clock's reading offset from the reference (composed along the best path)."""
    result: dict[str, dict[str, Any]] = {}
    if reference is None:
        return result
    result[reference] = {
        "offset_s": 0.0,
        "drift_s_per_day": 0.0,
        "t0": None,
        "via": [],
        "confidence": "reference",
        "mad_s": 0.0,
    }
    frontier = [reference]
    while frontier:
        nxt = []
        for known in frontier:
            for p in sorted(pairs, key=lambda p: -p["n"]):
                if known not in (p["clock"], p["other"]):
                    continue
                other = p["other"] if p["clock"] == known else p["clock"]
                if other in result:
                    continue
                sign = 1.0 if p["clock"] == other else -1.0  # offset(other - known)
                base = result[known]
                drift = sign * p["drift_s_per_day"] if p["drift_significant"] else 0.0
                result[other] = {
                    "offset_s": round(base["offset_s"] + sign * p["median_s"], 1),
                    "drift_s_per_day": round(base["drift_s_per_day"] + drift, 2),
                    "t0": p["t0"],
                    "intercept_s": round(sign * p["intercept_s"], 1),
                    "via": [*base["via"], known],
                    "confidence": p["confidence"],
                    "mad_s": p["mad_s"],
                }
                nxt.append(other)
        frontier = nxt
    for clock in clocks:
        result.setdefault(
            clock,
            {
                "offset_s": None,
                "drift_s_per_day": None,
                "t0": None,
                "via": [],
                "confidence": "none",
                "mad_s": None,
            },
        )
    return result


def to_reference(
    offsets: dict[str, dict[str, Any]], clock: str, reading: datetime
) -> datetime | None:
    """A reading of ``clock`` as the reference clock would have read the same instant."""
    o = offsets.get(clock)
    if o is None or o["offset_s"] is None:
        return None
    shift = o["offset_s"]
    if o["drift_s_per_day"] and o["t0"]:
        days = (reading - datetime.fromisoformat(o["t0"])).total_seconds() / 86_400
        shift = o["intercept_s"] + o["drift_s_per_day"] * days
    return reading - timedelta(seconds=shift)


def _fmt_s(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    s = abs(seconds)
    if s < 120:
        return f"{sign}{s:.0f} s"
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return (
        f"{sign}{int(h)} h {int(m):02d} min {sec:02.0f} s"
        if h
        else f"{sign}{int(m)} min {sec:02.0f} s"
    )


def _ahead(p: dict[str, Any]) -> str:
    """``www`` runs 4 min 35 s behind ``fw``."""
    error = p["implied_error_s"]
    fast, slow = (p["clock"], p["other"]) if error > 0 else (p["other"], p["clock"])
    return f"`{fast}` runs {_fmt_s(abs(error))[1:]} ahead of `{slow}`"


def _narrative(data: dict[str, Any]) -> str:
    clocks = {c["id"]: c for c in data["clocks"]}
    lines = [
        f"The bundle has **{len(clocks)} clocks** (one per host; files that name no host "
        "count as their own clock)."
    ]
    for c in clocks.values():
        zone = c["zone"] or "unknown"
        lines.append(f"- `{c['id']}`: {', '.join(c['formats'])}; zone {zone} ({c['zone_basis']}).")
    ref = data["reference"]
    if ref:
        lines.append(
            f"\nThe reference clock is `{ref}`, the one most tied to the others by "
            "matched observations; every time in this report says which clock it is on."
        )
    for p in data["pairs"]:
        if p["confidence"] == "none":
            lines.append(
                f"\n`{p['clock']}` vs `{p['other']}`: only {p['n']} matched pair(s); "
                "too few to settle an offset."
            )
            continue
        drift = (
            f"a drift of {p['drift_s_per_day']:+.1f} s/day (±{p['drift_stderr']:.1f})"
            if p["drift_significant"]
            else f"no significant drift ({p['drift_s_per_day']:+.2f} ± {p['drift_stderr']:.2f} s/day "
            f"over {p['span_days']:.0f} days)"
        )
        lines.append(
            f"\n**`{p['clock']}` vs `{p['other']}`**: readings differ by **{_fmt_s(p['median_s'])}** "
            f"(median of {p['n']:,} matched pairs, spread ±{p['mad_s']:.0f} s MAD, 90% within "
            f"{_fmt_s(p['p05_s'])} … {_fmt_s(p['p95_s'])}), with {drift}; confidence "
            f"{p['confidence']}. Matched by: "
            + "; ".join(f"{k} ({v:,})" for k, v in p["matchers"].items())
            + "."
        )
        if p["zone_difference_s"]:
            lines.append(
                f"The store placed these clocks {format_offset(p['zone_difference_s'])} apart "
                f"by their zones, so the clocks themselves disagree by "
                f"**{_fmt_s(p['implied_error_s'])}**: {_ahead(p)}."
            )
        elif abs(p["implied_error_s"]) > max(5, 2 * p["mad_s"]):
            lines.append(
                f"With the same zone assumed on both, the clocks disagree by "
                f"**{_fmt_s(p['implied_error_s'])}**: {_ahead(p)}."
            )
        else:
            lines.append("Within the spread of the matches, these clocks agree.")
    unaligned = [c for c, o in data["offsets"].items() if o["offset_s"] is None]
    if unaligned:
        lines.append(
            "\nNo shared observations tie "
            + ", ".join(f"`{c}`" for c in unaligned)
            + " to the reference clock: their times are shown on their own clocks only, "
            "and cannot be compared with the others beyond their zone assumptions."
        )
    return "\n".join(lines)
