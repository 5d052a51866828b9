"""The only place the stages are wired together.

read -> sniff -> parse -> events (event store) -> analyses -> findings -> render
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from reportgen import __version__, findings, ingest, store
from reportgen.analyses import clocks, compromise, detection, method, noise, profile, timeline
from reportgen.ingest import Options, Progress
from reportgen.model import FileStats, Finding
from reportgen.render import charts, html


class NoInput(Exception):
    """Nothing in the input could be read at all."""


@dataclass
class IngestResult:
    """What ingest produced, for the summary table and the exit code."""

    db_path: str
    stats: list[FileStats]
    input_problems: list[tuple[str, str]]
    warnings: list[str]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    report: str | None = None
    """Path of the write-up, once rendered."""

    @property
    def needs_attention(self) -> bool:
        """Unreadable, unrecognized or truncated input, or lines no format read."""
        return bool(self.input_problems) or any(
            s.status in ("unrecognized", "truncated", "error") or s.problems for s in self.stats
        )


def ingest_only(
    logdir: str, out: str, options: Options, progress: Progress | None = None
) -> IngestResult:
    """Read ``logdir`` into ``out/events.duckdb``."""
    os.makedirs(out, exist_ok=True)
    db_path = os.path.join(out, "events.duckdb")
    started = time.perf_counter()
    # read, sniff, parse and load happen file by file, block by block, so that
    # memory stays flat whatever the input size; assumptions (years, zones,
    # hosts) are settled once everything is loaded, since their evidence is
    # spread over files.
    con, stats = ingest.ingest(logdir, db_path, options, progress)
    try:
        problems = [
            (f, r)
            for f, r in con.execute(
                "SELECT file, reason FROM input_problems ORDER BY file"
            ).fetchall()
        ]
        warnings = store.get_run(con, "warnings", [])
    finally:
        con.close()
    if not stats and problems:
        raise NoInput(f"{logdir}: nothing could be read ({problems[0][1]})")
    if not stats:
        raise NoInput(f"{logdir}: no files found")
    return IngestResult(db_path, stats, problems, warnings, time.perf_counter() - started)


def source_rows(db_path: str) -> list[tuple[object, ...]]:
    """Summary rows, one per rotation set (``messages``, ``messages.1`` ... together):
    source, files, format, host, lines, events, problems, first and last reading."""
    con = store.open_store(db_path)
    try:
        return [
            tuple(r)
            for r in con.execute(
                """SELECT rotation_set, count(*), coalesce(format, any_value(status)), host,
                      sum(lines), sum(events), sum(problems),
                      strftime(min(first_reading), '%Y-%m-%d %H:%M'),
                      strftime(max(last_reading), '%Y-%m-%d %H:%M')
               FROM sources GROUP BY rotation_set, format, host
               ORDER BY min(file_id)"""
            ).fetchall()
        ]
    finally:
        con.close()


def analyze(con: Any) -> dict[str, Finding]:
    """Run the analyses in order; each takes the findings it builds on."""
    # Clocks first: every later time is placed on the reference clock.
    found: dict[str, Finding] = {"clocks": clocks.analyze(con)}
    # The target's profile needs the clocks' address matches.
    found["profile"] = profile.analyze(con, found["clocks"])
    found["timeline"] = timeline.analyze(con, found["clocks"], found["profile"])
    found["compromise"] = compromise.analyze(found["timeline"])
    found["detection"] = detection.analyze(
        con, found["clocks"], found["profile"], found["compromise"]
    )
    found["noise"] = noise.analyze(con, found["profile"])
    # Method last: it describes what every other stage did.
    found["method"] = method.analyze(con, found["clocks"], found["timeline"], found["noise"])
    return found


def slug(name: str) -> str:
    """A safe directory name for a report."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned[:80] or "report"


def run(
    logdir: str,
    site: str,
    name: str,
    options: Options,
    progress: Progress | None = None,
    generated_at: str | None = None,
) -> IngestResult:
    """Ingest, analyze and render one report into ``site/<name>/``; update the site index."""
    out = os.path.join(site, slug(name))
    started = time.perf_counter()
    result = ingest_only(logdir, out, options, progress)
    result.timings["ingest"] = time.perf_counter() - started
    con = store.open_store(result.db_path, read_only=False)
    try:
        t = time.perf_counter()
        found = analyze(con)
        result.timings["analyses"] = time.perf_counter() - t
        t = time.perf_counter()
        # findings.json is written before the page: it is the record the page is drawn from.
        period = _period(con)
        document = findings.assemble(name, found, period, generated_at)
        with open(os.path.join(out, "findings.json"), "w", encoding="utf-8") as f:
            f.write(findings.dumps(document))
        chart_list = [
            charts.timeline(
                found["timeline"].data["events"],
                found["compromise"].data["compromises"],
                found["clocks"].data["reference"],
            ),
            charts.volume(con),
            *charts.noise(found["noise"]),
            charts.clocks(found["clocks"]),
            charts.attackers(con, found["compromise"], found["clocks"]),
        ]
        problems = store.rows(
            con,
            """SELECT file, line, reason, raw FROM parse_problems
            ORDER BY file_id, line LIMIT 20""",
        )
        context = html.report_context(
            name, found, chart_list, problems, generated_at, f"reportgen {__version__}"
        )
        page = html.render_report(context)
    finally:
        con.close()
    result.report = os.path.join(out, "index.html")
    with open(result.report, "w", encoding="utf-8") as f:
        f.write(page)
    _update_index(site, slug(name), name, period, document["verdict"])
    result.timings["render"] = time.perf_counter() - t
    result.seconds = time.perf_counter() - started
    return result


def _period(con: Any) -> dict[str, Any]:
    first, last = con.execute(
        "SELECT min(first_reading), max(last_reading) FROM sources"
    ).fetchone()
    return {
        "first": first.isoformat() if first else None,
        "last": last.isoformat() if last else None,
        "clock": "each source's own clock",
    }


def _update_index(site: str, folder: str, name: str, period: dict[str, Any], verdict: str) -> None:
    """Add or replace this report in site/reports.json, then rewrite site/index.html."""
    listing_path = os.path.join(site, "reports.json")
    reports: list[dict[str, Any]] = []
    if os.path.exists(listing_path):
        try:
            with open(listing_path, encoding="utf-8") as f:
                reports = [r for r in json.load(f) if isinstance(r, dict) and r.get("href")]
        except (OSError, ValueError):
            reports = []
    reports = [r for r in reports if r["href"] != f"{folder}/index.html"]
    reports.append(
        {
            "name": name,
            "href": f"{folder}/index.html",
            "first": period["first"],
            "last": period["last"],
            "verdict": verdict,
        }
    )
    reports.sort(key=lambda r: str(r["name"]))
    with open(listing_path, "w", encoding="utf-8") as f:
        json.dump(reports, f, indent=1, ensure_ascii=False)
    with open(os.path.join(site, "index.html"), "w", encoding="utf-8") as f:
        f.write(html.render_index(reports, f"reportgen {__version__}"))
