"""Q3, detection in production: which ordinary sources would have revealed each
compromise, how soon, and how reliably.

Only the sources a production shop has are used (IDS alerts, web server logs,
firewall logs, syslog); honeypot-only streams are not needed. For each
compromise and source, the first record that points at it (from its attackers,
or the server's own unusual outbound traffic) is found, with its delay after the
compromise on the reference clock. Reliability says whether that signal is one
a rule would raise on by itself (:data:`SIGNALS`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

from reportgen.analyses.clocks import to_reference
from reportgen.analyses.profile import server_addresses
from reportgen.model import Finding

NAME = "detection"
TITLE = "Q3 · How production monitoring would have caught it"

LOOK_BEFORE = timedelta(minutes=10)
LOOK_AFTER = timedelta(days=7)
IRC_PORTS = "(6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 7000, 194)"

# source -> (query filter given attacker addresses and server addresses, what it is, reliability)
SIGNALS: dict[str, tuple[str, str]] = {
    "IDS": (
        "an IDS alert naming an attacker, or the server's IRC/attack traffic",
        "reliable when the alert is specific (attack response, IRC from the server); "
        "web-attack signatures also fire on the many attacks that fail",
    ),
    "web server logs": (
        "the attack request itself, with shell commands in the URL, and any "
        "command output in the error log",
        "reliable: injected shell commands never appear in legitimate requests, "
        "and output in the error log proves they ran",
    ),
    "firewall": (
        "the server opening connections it never opens (IRC, scans, downloads)",
        "reliable for egress rules: a server that only answers should never start "
        "IRC sessions or sweeps",
    ),
    "syslog": (
        "a login by an outsider, or strain on the server's services",
        "reliable for logins that match a rule (new source, shared account); silent for "
        "attacks through the web server, which runs commands without logging in",
    ),
}


def _first(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> tuple[Any, ...] | None:
    return con.execute(
        f"""SELECT coalesce(e.host, 'file ' || s.rotation_set), e.reading, e.file,
        e.line, e.raw, e.source FROM events e JOIN sources s USING (file_id) WHERE {where}
        ORDER BY e.ts, e.file, e.line LIMIT 1""",
        params,
    ).fetchone()


def analyze(
    con: duckdb.DuckDBPyConnection, clocks: Finding, profile: Finding, compromise: Finding
) -> Finding:
    """For each compromise, the first signal in each production source and its delay."""
    offsets = clocks.data["offsets"]
    servers = sorted(server_addresses(profile)) or [""]
    rows = []
    for c in compromise.data["compromises"]:
        start = datetime.fromisoformat(c["start"])
        attackers = c["addresses"] or [""]
        # search each clock's own readings, widened by the clock spread
        lo, hi = start - LOOK_BEFORE - timedelta(hours=14), start + LOOK_AFTER + timedelta(hours=14)
        queries = {
            "IDS": (
                """e.source = 'snort' AND e.reading BETWEEN ? AND ? AND (e.src_ip IN
                    (SELECT unnest(?)) OR ((e.src_ip IN (SELECT unnest(?)) OR e.dst_ip IN
                    (SELECT unnest(?))) AND (e.message LIKE '%IRC%'
                    OR e.message LIKE 'ATTACK-RESPONSES%id check%')))""",
                [lo, hi, attackers, servers, servers],
            ),
            "web server logs": (
                """e.source IN ('apache_access', 'apache_error') AND e.reading
                    BETWEEN ? AND ? AND e.src_ip IN (SELECT unnest(?))""",
                [lo, hi, attackers],
            ),
            "firewall": (
                f"""e.source = 'netfilter' AND e.reading BETWEEN ? AND ? AND
                    e.src_ip IN (SELECT unnest(?)) AND e.dst_ip NOT IN (SELECT unnest(?)) AND
                    (e.dst_port IN {IRC_PORTS} OR e.dst_port IN (21, 22, 80))""",
                [lo, hi, servers, servers],
            ),
            "syslog": (
                """e.source = 'syslog' AND e.reading BETWEEN ? AND ? AND (e.src_ip IN
                    (SELECT unnest(?)) OR e.kind = 'syslog:sendmail:overload')""",
                [lo, hi, attackers],
            ),
        }
        per_source = []
        for source, (where, params) in queries.items():
            found = _first(con, where, params)
            entry: dict[str, Any] = {
                "source": source,
                "signal": SIGNALS[source][0],
                "reliability": SIGNALS[source][1],
            }
            if found is None:
                entry.update({"seen": False, "delay_s": None, "delay_text": delay_text(None)})
            else:
                clock, reading, file, line, raw, fmt = found
                ref = to_reference(offsets, clock, reading)
                delay = (ref - start).total_seconds() if ref else None
                if delay is not None and not (
                    -LOOK_BEFORE.total_seconds() <= delay <= LOOK_AFTER.total_seconds()
                ):
                    entry.update({"seen": False, "delay_s": None, "delay_text": delay_text(None)})
                else:
                    entry.update(
                        {
                            "delay_text": delay_text(delay),
                            "seen": True,
                            "delay_s": delay,
                            "clock": clock,
                            "reading": reading.isoformat(),
                            "evidence": {"file": file, "line": line, "raw": raw, "source": fmt},
                        }
                    )
            per_source.append(entry)
        rows.append(
            {
                "compromise": c["id"],
                "vector": c["vector"],
                "start": c["start"],
                "sources": per_source,
            }
        )
    data = {"compromises": rows, "signals": {k: v[0] for k, v in SIGNALS.items()}}
    return Finding(NAME, TITLE, _narrative(rows), data)


def delay_text(seconds: float | None) -> str:
    if seconds is None:
        return "not seen"
    if abs(seconds) < 90:
        return f"{seconds:+.0f} s"
    if abs(seconds) < 5400:
        return f"{seconds / 60:+.0f} min"
    if abs(seconds) < 172800:
        return f"{seconds / 3600:+.1f} h"
    return f"{seconds / 86400:+.1f} days"


def _narrative(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "With no compromise found, there was nothing for production monitoring to catch."
    lines = [
        "Delays are measured on the reference clock from the start of each compromise "
        "(negative: the signal came first, as when the attack request itself is logged)."
    ]
    for r in rows:
        seen = [s for s in r["sources"] if s["seen"]]
        parts = [f"{s['source']} {s['delay_text']}" for s in r["sources"]]
        fastest = min(
            seen, key=lambda s: s["delay_s"] if s["delay_s"] is not None else 1e12, default=None
        )
        tail = f"; first: **{fastest['source']}**" if fastest else "; no production source saw it"
        lines.append(f"- **{r['compromise']}** ({r['vector']}): " + ", ".join(parts) + tail + ".")
    lines.append(
        "\nWhat each source offers: "
        + " ".join(f"**{k}**: {v[0]}; {v[1]}." for k, v in SIGNALS.items())
    )
    return "\n".join(lines)
