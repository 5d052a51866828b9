"""Q4, noise: what else hit the network, in which families, at what levels, and
which of it could have affected this target.

Inbound firewall packets, IDS alerts, web requests and the target's own syslog
complaints (SSH guesses, relay probes) are sorted into the families of
:mod:`reportgen.analyses.families`, in SQL generated from that table. Levels are
counted per day on each sensor's own clock. A day is anomalous for a family when
it is far above the family's usual day (:data:`SPIKE_FACTOR` times the median and
:data:`SPIKE_MADS` median absolute deviations above it); a family that begins or
ends well inside the period is reported as a sudden start or stop.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

import duckdb

from reportgen.analyses.families import BY_KEY, FAMILIES, Family
from reportgen.analyses.profile import server_addresses, service_ports
from reportgen.model import Finding

NAME = "noise"
TITLE = "Q4 · Noise: what else was going on"

SPIKE_FACTOR = 3.0
SPIKE_MADS = 5.0
SPIKE_MIN = 50
"""A spike needs at least this many records that day."""
EDGE_SHARE = 0.25
"""A family first seen after this share of the period (or last seen before the
mirror share) started or stopped suddenly, if it is busy while it lasts."""
TOP = 15


def _port_condition(family: Family) -> str:
    parts = []
    for spec in family.ports:
        proto, _, ports = spec.partition("/")
        lo, _, hi = ports.partition("-")
        cond = f"dst_port BETWEEN {int(lo)} AND {int(hi)}" if hi else f"dst_port = {int(lo)}"
        parts.append(f"(proto_l = '{proto}' AND {cond})")
    return " OR ".join(parts)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def firewall_case() -> str:
    """SQL CASE giving the family of an inbound netfilter packet (over ``proto_l``, the
    protocol in lower case, and ``flags`` and ``icmp_type`` read from ``extra`` once)."""
    whens = [
        # replies nobody asked for: RST, SYN-ACK, or ACK from a service port
        "WHEN proto_l = 'tcp' AND (flags LIKE '%RST%' OR "
        "(flags LIKE '%SYN%' AND flags LIKE '%ACK%') OR "
        "(flags NOT LIKE '%SYN%' AND src_port < 1024)) THEN 'backscatter'",
        "WHEN proto_l = 'tcp' AND flags NOT LIKE '%SYN%' THEN 'scan'",
        "WHEN proto_l LIKE 'icmp%' AND icmp_type IN ('0', '3', '11', '129', '1')"
        " THEN 'backscatter'",
        "WHEN proto_l LIKE 'icmp%' THEN 'icmp'",
    ]
    whens += [f"WHEN {_port_condition(f)} THEN '{f.key}'" for f in FAMILIES if f.ports]
    return "CASE " + " ".join(whens) + " ELSE 'other' END"


def ids_case() -> str:
    """SQL CASE giving the family of an IDS alert (signature first, then port)."""
    whens = [
        f"WHEN regexp_matches(message, {_sql_str(f.ids)}) THEN '{f.key}'" for f in FAMILIES if f.ids
    ]
    whens += [f"WHEN {_port_condition(f)} THEN '{f.key}'" for f in FAMILIES if f.ports]
    return "CASE " + " ".join(whens) + " ELSE 'other' END"


def web_case() -> str:
    """SQL CASE giving the family of a web request (NULL: ordinary traffic)."""
    whens = [
        f"WHEN regexp_matches(message, {_sql_str(f.web)}) THEN '{f.key}'" for f in FAMILIES if f.web
    ]
    return "CASE " + " ".join(whens) + " ELSE NULL END"


def syslog_case() -> str:
    """SQL CASE giving the family of a syslog line (NULL: not noise)."""
    whens = [f"WHEN kind LIKE '{k}' THEN '{f.key}'" for f in FAMILIES for k in f.syslog]
    return "CASE " + " ".join(whens) + " ELSE NULL END"


def internal_condition(column: str, networks: list[str]) -> str:
    """SQL: ``column`` is an address of the monitored networks (/24s)."""
    if not networks:
        return "FALSE"
    return (
        "("
        + " OR ".join(
            f"{column} LIKE {_sql_str(n.split('/')[0].rsplit('.', 1)[0] + '.%')}" for n in networks
        )
        + ")"
    )


def classify_table(con: duckdb.DuckDBPyConnection, profile: Finding) -> None:
    """Temp table ``noise``: every inbound record with its family, day and source kind."""
    internal_src = internal_condition("src_ip", profile.data["networks"])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE noise AS
        SELECT 'firewall' AS via, host AS sensor, file, line, reading, src_ip, dst_ip, dst_port,
               proto, NULL AS signature, {firewall_case()} AS family
        FROM (SELECT *, lower(proto) AS proto_l, extra->>'flags' AS flags,
                     extra->>'icmp_type' AS icmp_type
              FROM ev WHERE kind = 'netfilter:packet' AND NOT {internal_src})
        UNION ALL
        SELECT 'IDS', host, file, line, reading, src_ip, dst_ip, dst_port, proto, message,
               {ids_case()}
        FROM (SELECT *, lower(proto) AS proto_l FROM ev
              WHERE kind = 'snort:alert' AND NOT {internal_src})
        UNION ALL
        SELECT * FROM (SELECT 'web', host, file, line, reading, src_ip, NULL, dst_port, 'tcp',
               NULL, {web_case()} AS family FROM ev WHERE kind = 'apache:access')
        WHERE family IS NOT NULL
        UNION ALL
        SELECT * FROM (SELECT 'syslog', host, file, line, reading, src_ip, NULL, NULL, NULL, NULL,
               {syslog_case()} AS family FROM ev WHERE source = 'syslog')
        WHERE family IS NOT NULL""")


def _affects(family: Family, profile: Finding) -> tuple[str, str]:
    """Could this family affect the target? (``yes``, ``no``, ``unknown``) and why."""
    servers = profile.data["servers"]
    if family.harmless:
        return "no", "not an attack: " + family.needs.removeprefix("nothing: ")
    if family.key == "scan":
        return "indirectly", "reconnaissance: it can only matter as the prelude to an attack"
    if not servers:
        return "unknown", "the target's platform is not known from its logs"
    platforms = {s["platform"] for s in servers}
    if family.platform == "windows" and "linux" in platforms:
        return "no", f"aims at Windows ({family.needs}); the target runs Linux"
    ports = service_ports(profile)
    fam_ports = {int(p.split("/")[1].split("-")[0]) for p in family.ports}
    web_up = any(s["web_server"] for s in servers) or 80 in ports
    if family.key == "irc":
        return "yes", "IRC traffic to or from the target means a client or bot runs there"
    if family.key in ("web-unix", "proxy", "iis", "web") or family.web:
        if web_up:
            return "yes", "the target runs a web server that answered these requests"
        return "no", "no web server answers on the target"
    if fam_ports & ports:
        shown = ", ".join(str(p) for p in sorted(fam_ports & ports))
        return "yes", f"the target runs the service on port {shown}"
    if fam_ports:
        return "no", f"needs {family.needs}, which the target's logs never show running"
    return "unknown", "no port or platform to judge by"


def _anomalies(days: list[tuple[str, int]], all_days: list[str]) -> list[dict[str, Any]]:
    counts = dict(days)
    if not all_days:
        return []
    series = [counts.get(d, 0) for d in all_days]
    nonzero = [c for c in series if c]
    if not nonzero:
        return []
    median = statistics.median(series)
    mad = statistics.median(abs(c - median) for c in series)
    out = []
    for d, c in zip(all_days, series, strict=True):
        if (
            c >= SPIKE_MIN
            and c > SPIKE_FACTOR * max(median, 1)
            and c > median + SPIKE_MADS * max(mad, 1)
        ):
            out.append(
                {
                    "type": "spike",
                    "day": d,
                    "count": c,
                    "median": median,
                    "text": f"{c:,} on {d}, against a median day of {median:,.0f}",
                }
            )
    active = [d for d, c in zip(all_days, series, strict=True) if c]
    n = len(all_days)
    busy = sum(nonzero) / max(len(nonzero), 1) >= 10
    if n >= 8 and busy:
        first, last = all_days.index(active[0]), all_days.index(active[-1])
        if first >= EDGE_SHARE * n:
            out.append(
                {
                    "type": "start",
                    "day": active[0],
                    "count": counts[active[0]],
                    "median": median,
                    "text": f"starts suddenly on {active[0]} (nothing in the first {first} days)",
                }
            )
        if last <= (1 - EDGE_SHARE) * n - 1:
            out.append(
                {
                    "type": "stop",
                    "day": active[-1],
                    "count": counts[active[-1]],
                    "median": median,
                    "text": f"stops on {active[-1]} ({n - 1 - last} quiet days follow)",
                }
            )
    return out


def _days(lo: Any, hi: Any) -> list[Any]:
    start, end = lo.date(), hi.date()
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def analyze(con: duckdb.DuckDBPyConnection, profile: Finding) -> Finding:
    """Classify the inbound noise, count it, find anomalies, judge what could matter."""
    classify_table(con, profile)
    all_days = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT strftime(reading, '%Y-%m-%d') FROM noise ORDER BY 1"
        ).fetchall()
    ]
    coverage = {
        via: [d.strftime("%Y-%m-%d") for d in _days(lo, hi)]
        for via, lo, hi in con.execute(
            "SELECT via, min(reading), max(reading) FROM noise GROUP BY via"
        ).fetchall()
    }
    totals = {
        r[0]: r
        for r in con.execute("""
        SELECT family, count(*), count(DISTINCT src_ip), min(reading), max(reading),
               count(*) FILTER (WHERE via = 'firewall'), count(*) FILTER (WHERE via = 'IDS'),
               count(*) FILTER (WHERE via = 'web'), count(*) FILTER (WHERE via = 'syslog')
        FROM noise GROUP BY family""").fetchall()
    }
    daily: dict[str, list[tuple[str, int]]] = {}
    for fam, day, n in con.execute("""SELECT family, strftime(reading, '%Y-%m-%d'), count(*)
            FROM noise GROUP BY ALL ORDER BY 1, 2""").fetchall():
        daily.setdefault(fam, []).append((day, n))
    primary: dict[str, list[tuple[str, int]]] = {}
    vias: dict[str, str] = {}
    for fam, via, day, n in con.execute("""WITH v AS (SELECT family, arg_max(via, n) AS via FROM
                (SELECT family, via, count(*) AS n FROM noise GROUP BY ALL) GROUP BY family)
            SELECT family, via, strftime(reading, '%Y-%m-%d'), count(*) FROM noise JOIN v
            USING (family, via) GROUP BY ALL ORDER BY 1, 3""").fetchall():
        primary.setdefault(fam, []).append((day, n))
        vias[fam] = via
    targets = server_addresses(profile)
    at_target: dict[str, int] = {}
    if targets:
        at_target = dict(
            con.execute(
                """SELECT family, count(*) FROM noise WHERE dst_ip IN (SELECT unnest(?))
                OR via IN ('web', 'syslog') GROUP BY family""",
                [sorted(targets)],
            ).fetchall()
        )
    families = []
    for f in FAMILIES:
        if f.key not in totals:
            continue
        _, n, sources, first, last, fw, ids, web, sys_ = totals[f.key]
        affects, why = _affects(f, profile)
        families.append(
            {
                "key": f.key,
                "name": f.name,
                "platform": f.platform,
                "records": n,
                "sources": sources,
                "first": first.isoformat(),
                "last": last.isoformat(),
                "by_source": {"firewall": fw, "IDS": ids, "web": web, "syslog": sys_},
                "at_target": at_target.get(f.key, 0),
                "could_affect": affects,
                "why": why,
                "daily": [{"day": d, "count": c} for d, c in daily.get(f.key, [])],
                "anomalies": _anomalies(
                    primary.get(f.key, []), coverage.get(vias.get(f.key, ""), [])
                ),
                "counted_by": vias.get(f.key),
            }
        )
    families.sort(key=lambda x: -x["records"])
    signatures = [
        {"signature": s, "alerts": n, "sources": k, "family": fam, "family_name": BY_KEY[fam].name}
        for s, n, k, fam in con.execute(
            """SELECT signature, count(*), count(DISTINCT src_ip),
                      any_value(family) FROM noise WHERE via = 'IDS' GROUP BY 1
                      ORDER BY 2 DESC, 1 LIMIT ?""",
            [TOP],
        ).fetchall()
    ]
    ports = [
        {
            "port": f"{p}/{proto.lower()}",
            "packets": n,
            "sources": k,
            "family": fam,
            "family_name": BY_KEY[fam].name,
        }
        for p, proto, n, k, fam in con.execute(
            """SELECT dst_port, proto, count(*),
                 count(DISTINCT src_ip), mode(family) FROM noise WHERE via = 'firewall'
                 AND dst_port IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT ?""",
            [TOP],
        ).fetchall()
    ]
    per_day = [
        {"day": d, "records": n}
        for d, n in con.execute(
            "SELECT strftime(reading, '%Y-%m-%d'), count(*) FROM noise GROUP BY 1 ORDER BY 1"
        ).fetchall()
    ]
    data = {
        "families": families,
        "top_signatures": signatures,
        "top_ports": ports,
        "days": all_days,
        "per_day": per_day,
        "anomalies": [
            {"family": f["key"], "name": f["name"], **a} for f in families for a in f["anomalies"]
        ],
        "clock_note": "days are counted on each sensor's own clock",
    }
    return Finding(NAME, TITLE, _narrative(data), data)


def _narrative(data: dict[str, Any]) -> str:
    fams = data["families"]
    if not fams:
        return "No inbound firewall, IDS or web noise was found in the bundle."
    total = sum(f["records"] for f in fams)
    lines = [
        f"**{total:,} inbound records** (firewall packets, IDS alerts, web requests and the "
        f"target's own complaints) fall into {len(fams)} families over "
        f"{len(data['days'])} days ({data['clock_note']}):"
    ]
    for f in fams[:10]:
        lines.append(
            f"- **{f['name']}**: {f['records']:,} records from {f['sources']:,} sources; "
            f"could affect the target: **{f['could_affect']}** ({f['why']})."
        )
    if data["anomalies"]:
        lines.append("\nOut of the ordinary:")
        lines += [f"- {a['name']}: {a['text']}." for a in data["anomalies"][:10]]
    else:
        lines.append("\nNo family shows a day far above its usual level.")
    matter = [f["name"] for f in fams if f["could_affect"] == "yes"]
    if matter:
        lines.append("\nOnly these could have affected this target: " + "; ".join(matter) + ".")
    return "\n".join(lines)
