"""The event store: an embedded DuckDB file that analyses and users query.

Tables (documented in the README):

* ``events``: one row per parsed line, time as recorded (``reading``), the
  zone used to place it (``utc_offset``) and the resulting instant (``ts``);
* ``sources``: one row per input file with its format, host, line accounting
  (``lines = events + problems``) and the year and zone assumptions;
* ``parse_problems``: lines no format could read, with the reason;
* ``input_problems``: files that could not be read, wholly or partly;
* ``run``: key/value facts about the run (version, options, warnings).

Parsed batches arrive as Arrow record batches, so loading costs one columnar
copy per batch rather than one insert per row.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from reportgen.model import Event, InputProblem, ParseProblem

SCHEMA_VERSION = 1
MEMORY_LIMIT = "160MB"
"""DuckDB's buffer pool while loading: it writes through to disk beyond this, so
memory stays flat however large the input."""
ANALYSIS_MEMORY_LIMIT = "768MB"
"""DuckDB's memory for the analyses, whatever the input size."""
PROBLEM_EXCERPT = 2000
"""Characters of a problem line kept in ``parse_problems.raw``."""

EVENT_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("reading", pa.timestamp("us")),
        ("utc_offset", pa.int32()),
        ("year_inferred", pa.bool_()),
        ("year_offset", pa.int16()),
        ("source", pa.string()),
        ("kind", pa.string()),
        ("host", pa.string()),
        ("program", pa.string()),
        ("pid", pa.int64()),
        ("src_ip", pa.string()),
        ("src_port", pa.int32()),
        ("dst_ip", pa.string()),
        ("dst_port", pa.int32()),
        ("proto", pa.string()),
        ("user", pa.string()),
        ("action", pa.string()),
        ("outcome", pa.string()),
        ("message", pa.large_string()),
        ("extra", pa.large_string()),
        ("raw", pa.large_string()),
        ("raw_bytes", pa.large_binary()),
    ]
)

DDL = """
CREATE TABLE events_raw (
    file_id INTEGER NOT NULL,
    line BIGINT NOT NULL,
    reading TIMESTAMP NOT NULL,
    utc_offset INTEGER,
    year_inferred BOOLEAN NOT NULL,
    year_offset SMALLINT NOT NULL,
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    host VARCHAR,
    program VARCHAR,
    pid BIGINT,
    src_ip VARCHAR,
    src_port INTEGER,
    dst_ip VARCHAR,
    dst_port INTEGER,
    proto VARCHAR,
    "user" VARCHAR,
    action VARCHAR,
    outcome VARCHAR,
    message VARCHAR,
    extra JSON,
    raw VARCHAR NOT NULL,
    raw_bytes BLOB
);
CREATE TABLE sources (
    file_id INTEGER PRIMARY KEY,
    file VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    member VARCHAR,
    compression VARCHAR,
    size BIGINT,
    mtime TIMESTAMPTZ,
    rotation_set VARCHAR,
    rotation_index INTEGER,
    format VARCHAR,
    status VARCHAR NOT NULL,
    reason VARCHAR,
    scores JSON,
    formats JSON,
    lines BIGINT NOT NULL,
    events BIGINT NOT NULL,
    problems BIGINT NOT NULL,
    invalid_utf8 BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    host VARCHAR,
    host_basis VARCHAR,
    first_reading TIMESTAMP,
    last_reading TIMESTAMP,
    first_ts TIMESTAMPTZ,
    last_ts TIMESTAMPTZ,
    year INTEGER,
    year_shift INTEGER NOT NULL DEFAULT 0,
    year_basis VARCHAR,
    year_detail VARCHAR,
    zone VARCHAR,
    zone_offset INTEGER,
    zone_basis VARCHAR
);
CREATE TABLE parse_problems (
    file_id INTEGER NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    reason VARCHAR NOT NULL,
    raw VARCHAR NOT NULL
);
CREATE TABLE input_problems (file VARCHAR NOT NULL, reason VARCHAR NOT NULL);
CREATE TABLE run (key VARCHAR PRIMARY KEY, value JSON);
-- Events as analyses and users see them: the readings of yearless lines moved
-- into the year chosen for their file, and every event placed in its host's
-- zone (``ts``). The assumptions are per file, in ``sources``; nothing in
-- events_raw is rewritten.
CREATE VIEW events AS
WITH placed AS (
    SELECT e.file_id, s.file, e.line,
           CASE WHEN e.year_inferred THEN e.reading + to_years(s.year_shift + e.year_offset)
                ELSE e.reading END AS reading,
           e.utc_offset AS stated_offset, s.zone, s.zone_offset,
           e.year_inferred, e.source, e.kind, coalesce(e.host, s.host) AS host, e.program, e.pid,
           e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.proto, e."user", e.action, e.outcome,
           e.message, e.extra, e.raw, e.raw_bytes
    FROM events_raw e JOIN sources s USING (file_id)
), zoned AS (
    SELECT *, coalesce(stated_offset, zone_offset,
               CASE WHEN zone_offset IS NULL AND zone IS NOT NULL
                    THEN CAST(epoch(reading) - epoch(timezone(zone, reading)) AS INTEGER) END,
               0) AS utc_offset
    FROM placed
)
SELECT file_id, file, line, reading, utc_offset,
       CAST(reading AS TIMESTAMPTZ) - to_seconds(utc_offset) AS ts,
       year_inferred, source, kind, host, program, pid, src_ip, src_port, dst_ip, dst_port,
       proto, "user", action, outcome, message, extra, raw, raw_bytes
FROM zoned;
"""


def create(path: str) -> duckdb.DuckDBPyConnection:
    """A new, empty store at ``path`` (an existing file is replaced)."""
    for suffix in ("", ".wal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    con = duckdb.connect(path, config={"memory_limit": MEMORY_LIMIT})
    con.execute("SET TimeZone = 'UTC'")
    con.execute(DDL)
    con.execute("INSERT INTO run VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    return con


def open_store(path: str, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """An existing store, with DuckDB's memory bounded (it spills to disk beyond)."""
    con = duckdb.connect(path, read_only=read_only, config={"memory_limit": ANALYSIS_MEMORY_LIMIT})
    con.execute("SET TimeZone = 'UTC'")
    return con


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def events_batch(events: Sequence[Event], undecodable: dict[int, bytes]) -> pa.RecordBatch:
    """Parsed events as one Arrow record batch (``undecodable``: line -> original bytes)."""
    columns: dict[str, Any] = dict(zip(Event._fields, zip(*events, strict=True), strict=True))
    lines = columns["line"]
    columns["year_offset"] = [0] * len(lines)
    columns["extra"] = [_json(e) for e in columns["extra"]]
    columns["raw_bytes"] = (
        [undecodable.get(n) for n in lines] if undecodable else [None] * len(lines)
    )
    arrays = [pa.array(columns[f.name], type=f.type) for f in EVENT_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def columns_batch(
    columns: dict[str, pa.Array], claimed: pa.BooleanArray, first: int, raw: pa.Array
) -> pa.RecordBatch:
    """The claimed rows of a columnar parse as one batch (``first``: line number of row 0)."""
    index = pc.indices_nonzero(claimed)
    n = len(index)
    given = {
        **{name: pc.take(column, index) for name, column in columns.items()},
        "line": pc.add(index.cast(pa.int64()), first),
        "raw": pc.take(raw, index),
        "year_offset": pa.array([0] * n, pa.int16()),
    }
    arrays = [
        given[f.name].cast(f.type) if f.name in given else pa.nulls(n, f.type) for f in EVENT_SCHEMA
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


class EventWriter:
    """Loads parsed batches into ``events_raw`` and ``parse_problems`` on a thread
    of its own, so that reading, decompressing and parsing go on while DuckDB
    compresses and writes (it releases the interpreter meanwhile).

    Batches are loaded in groups of about ``rows`` rows: DuckDB writes much faster
    in few large inserts than in many small ones. The queue is bounded, so memory
    does not grow with the input. Until :meth:`close`, only this thread uses the
    connection.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, rows: int = 1 << 17) -> None:
        self.con = con
        self.rows = rows
        self.queue: queue.Queue[tuple[str, int, Any] | None] = queue.Queue(maxsize=8)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self.thread.start()

    def add(self, file_id: int, batch: pa.RecordBatch) -> None:
        """Queue one batch of a file's events."""
        self._put(("events", file_id, batch))

    def add_problems(self, file_id: int, file: str, problems: Sequence[ParseProblem]) -> None:
        """Queue parse problems of a file."""
        self._put(("problems", file_id, (file, list(problems))))

    def close(self) -> None:
        """Load what is queued and stop; re-raises a failure of the loading thread."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.failure is not None:
            raise self.failure

    def _put(self, item: tuple[str, int, Any]) -> None:
        if self.failure is not None:
            raise self.failure
        self.queue.put(item)

    def _run(self) -> None:
        pending: list[pa.RecordBatch] = []
        count, current = 0, 0
        try:
            while (item := self.queue.get()) is not None:
                kind, file_id, payload = item
                if kind == "problems":
                    append_problems(self.con, file_id, *payload)
                    continue
                if file_id != current or count >= self.rows:
                    self._load(current, pending)
                    pending, count, current = [], 0, file_id
                pending.append(payload)
                count += payload.num_rows
            self._load(current, pending)
        except BaseException as exc:  # handed to the caller by close()/add()
            self.failure = exc
            while self.queue.get() is not None:  # unblock the producer
                pass

    def _load(self, file_id: int, batches: list[pa.RecordBatch]) -> None:
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        self.con.register("_batch", table)
        try:
            self.con.execute(
                "INSERT INTO events_raw SELECT $file_id, * FROM _batch", {"file_id": file_id}
            )
            # Commit each group: a transaction that spans a multi-gigabyte file keeps
            # state in memory that grows with the file.
            self.con.execute("COMMIT")
            self.con.execute("BEGIN")
        finally:
            self.con.unregister("_batch")


def append_problems(
    con: duckdb.DuckDBPyConnection, file_id: int, file: str, problems: Sequence[ParseProblem]
) -> None:
    """Load parse problems (raw text cut to :data:`PROBLEM_EXCERPT` characters)."""
    if not problems:
        return
    table = pa.table(
        {
            "line": pa.array([p.line for p in problems], pa.int64()),
            "reason": pa.array([p.reason for p in problems], pa.string()),
            "raw": pa.array([p.raw[:PROBLEM_EXCERPT] for p in problems], pa.large_string()),
        }
    )
    con.register("_problems", table)
    try:
        con.execute(
            "INSERT INTO parse_problems SELECT $file_id, $file, line, reason, raw FROM _problems",
            {"file_id": file_id, "file": file},
        )
    finally:
        con.unregister("_problems")


def add_input_problems(con: duckdb.DuckDBPyConnection, problems: Sequence[InputProblem]) -> None:
    """Record files that could not be read, wholly or partly."""
    if problems:
        con.executemany(
            "INSERT INTO input_problems VALUES (?, ?)", [(p.display, p.reason) for p in problems]
        )


def set_run(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    """Record one fact about the run."""
    con.execute("INSERT OR REPLACE INTO run VALUES (?, ?)", [key, orjson.dumps(value).decode()])


def get_run(con: duckdb.DuckDBPyConnection, key: str, default: Any = None) -> Any:
    """One fact about the run, or ``default``."""
    row = con.execute("SELECT value FROM run WHERE key = ?", [key]).fetchone()
    return default if row is None else orjson.loads(row[0])


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts."""
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def scalar(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> Any:
    """The first column of the first row of a query, or None."""
    row = con.execute(sql, params).fetchone()
    return None if row is None else row[0]


SENSOR_KINDS = ("netfilter:packet", "snort:alert")
"""Kinds a monitoring sensor logs."""
SENSOR_SHARE = 0.9
"""A host whose events are at least this share firewall/IDS lines is a sensor; so is
one whose other lines all come from its kernel (bridge and interface messages)."""


def host_roles(con: duckdb.DuckDBPyConnection, table: str = "events_raw") -> dict[str, str]:
    """Each named host of ``table``: ``server`` or ``sensor``."""
    return {
        host: ("sensor" if sensor >= SENSOR_SHARE * total or other == 0 else "server")
        for host, total, sensor, other in con.execute(f"""
            SELECT host, count(*), count(*) FILTER (WHERE kind IN {SENSOR_KINDS}),
                   count(*) FILTER (WHERE kind NOT IN {SENSOR_KINDS}
                                    AND program IS DISTINCT FROM 'kernel')
            FROM {table} WHERE host IS NOT NULL GROUP BY host ORDER BY host""").fetchall()
    }
