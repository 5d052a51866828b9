"""The only place the stages are wired together.

read -> sniff -> parse -> events (event store) -> analyses -> findings -> render
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from reportgen import ingest, store
from reportgen.ingest import Options, Progress
from reportgen.model import FileStats


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
