"""Q6, method: what was read, how much of it was understood, what was correlated
with what, which rules fired, and what could not be used. Generated from the run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb

from reportgen import __version__, store
from reportgen.model import Finding

NAME = "method"
TITLE = "Q6 · How the analysis was done"


def analyze(
    con: duckdb.DuckDBPyConnection, clocks: Finding, timeline: Finding, noise: Finding
) -> Finding:
    """Describe the run from the store and the other findings."""
    sources = store.rows(
        con,
        """SELECT rotation_set AS log, any_value(format) AS format,
        any_value(host) AS host, count(*) AS files, sum(lines) AS lines, sum(events) AS events,
        sum(problems) AS problems, sum(invalid_utf8) AS invalid_utf8,
        any_value(year_basis) AS year_basis, any_value(zone) AS zone,
        any_value(zone_basis) AS zone_basis, any_value(host_basis) AS host_basis,
        strftime(min(first_reading), '%Y-%m-%d %H:%M:%S') AS first,
        strftime(max(last_reading), '%Y-%m-%d %H:%M:%S') AS last
        FROM sources GROUP BY rotation_set, format ORDER BY min(file_id)""",
    )
    unusable = store.rows(
        con,
        """SELECT file, status, reason FROM sources
        WHERE status NOT IN ('ok', 'forced') ORDER BY file""",
    )
    input_problems = store.rows(con, "SELECT file, reason FROM input_problems ORDER BY file")
    reasons = store.rows(
        con,
        """SELECT reason, count(*) AS lines FROM parse_problems
        GROUP BY reason ORDER BY lines DESC LIMIT 10""",
    )
    lines = sum(s["lines"] for s in sources)
    events = sum(s["events"] for s in sources)
    kinds = Counter(e.kind for e in timeline.data["events"])
    data: dict[str, Any] = {
        "version": __version__,
        "sources": sources,
        "lines": lines,
        "events": events,
        "problems": lines - events,
        "coverage": round(events / lines, 6) if lines else None,
        "unusable": unusable,
        "input_problems": input_problems,
        "problem_reasons": reasons,
        "warnings": store.get_run(con, "warnings", []),
        "correlations": [
            {"clocks": f"{p['clock']} ~ {p['other']}", "pairs": p["n"], "matchers": p["matchers"]}
            for p in clocks.data["pairs"]
        ],
        "rules_fired": dict(sorted(kinds.items())),
        "noise_families": {f["key"]: f["records"] for f in noise.data["families"]},
        "unaligned_clocks": [c for c, o in clocks.data["offsets"].items() if o["offset_s"] is None],
        "steps": [
            "read every file in place (archives streamed, never unpacked); sniffed each by content",
            "parsed each line with its format's parser; kept every line as an event or a counted "
            "problem",
            "gave yearless lines a year from dated lines in the bundle; gave each host a zone",
            "matched observations shared by two clocks (same packet, request and SYN, login and SYN) "
            "to measure offsets and drift; chose a reference clock",
            "profiled the target from its own logs (kernel, web server, services, addresses)",
            "ran the detectors for significant events; grouped entries into compromises and actors",
            "looked for the first signal of each compromise in each production source",
            "classified inbound traffic into noise families; looked for anomalous days",
        ],
    }
    return Finding(NAME, TITLE, _narrative(data), data)


def _narrative(data: dict[str, Any]) -> str:
    cov = f"{data['coverage']:.3%}" if data["coverage"] is not None else "n/a"
    lines = [
        f"reportgen {data['version']} read **{data['lines']:,} lines** from "
        f"{sum(s['files'] for s in data['sources'])} files; **{data['events']:,}** became "
        f"events ({cov}) and {data['problems']:,} are counted as parse problems.",
        "",
    ]
    lines += [f"{i}. {step}." for i, step in enumerate(data["steps"], 1)]
    if data["correlations"]:
        lines.append(
            "\nCorrelated: "
            + "; ".join(
                f"`{c['clocks']}` through {c['pairs']:,} matched pairs"
                for c in data["correlations"]
            )
            + "."
        )
    if data["unusable"] or data["input_problems"]:
        lines.append(
            "\nCould not be used: "
            + "; ".join(
                [f"`{u['file']}` ({u['status']}: {u['reason']})" for u in data["unusable"]]
                + [f"`{p['file']}` ({p['reason']})" for p in data["input_problems"]]
            )
            + "."
        )
    else:
        lines.append("\nEvery file was read and recognized.")
    if data["unaligned_clocks"]:
        lines.append(
            "Clocks with no shared observation: "
            + ", ".join(f"`{c}`" for c in data["unaligned_clocks"])
            + "."
        )
    if data["warnings"]:
        lines.append("Assumptions to keep in mind: " + "; ".join(data["warnings"]) + ".")
    return "\n".join(lines)
