"""Ingest: read every input, sniff its format, parse its lines, load the store.

Files are cut into blocks that end at a newline; blocks parse independently, so
they are spread over worker processes, and each comes back as an Arrow batch.
Once every file is loaded, :func:`settle` gives yearless readings their year,
Apache files their host, and every event the zone of its host. Those
assumptions are recorded per source; no reading is ever corrected for clock
error here (the clocks analysis measures that).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from reportgen import sources, store
from reportgen.clock import (
    ROLLOVER_GAP_DAYS,
    YEARLESS_BASE,
    YearlessSpan,
    Zone,
    datetime_to_reading,
    format_offset,
    infer_year,
    shift_years,
)
from reportgen.inputs import Limits, Opened, ReadFailure, is_packed, open_inputs, read_blocks
from reportgen.model import Event, FileStats, InputProblem, ParseProblem

MAX_PROBLEM_ROWS = 10_000
"""Problem lines stored per file; all are counted."""
SNIFF_BYTES = 8 << 20
"""Bytes read at most before a file's format is chosen from the lines seen so far."""
IN_FLIGHT = 4
"""Blocks queued per worker; bounds memory whatever the input size."""


@dataclass(frozen=True)
class Options:
    """What the user told ingest."""

    year: int | None = None
    zones: dict[str, Zone] = field(default_factory=dict)
    """Host name -> zone (``--tz HOST=ZONE``); ``*`` applies to every host."""
    forced: dict[str, str] = field(default_factory=dict)
    """Path (as displayed, or its basename) -> format name (``--format NAME=PATH``)."""
    limits: Limits = field(default_factory=Limits)
    jobs: int = 0
    """Worker processes; 0 means one per core."""


@dataclass
class BlockResult:
    """What parsing one block produced."""

    batch: pa.RecordBatch | None
    problems: list[ParseProblem]
    lines: int
    invalid_utf8: int


def split_lines(
    block: bytes, first: int, limit: int
) -> tuple[list[tuple[int, str]], dict[int, bytes], list[ParseProblem]]:
    """Numbered text lines of a block, the original bytes of lines that were not
    clean UTF-8 (decoded with ``\\xNN`` escapes so nothing is lost), and lines cut
    at the length limit."""
    if block.endswith(b"\n"):
        block = block[:-1]
    undecodable: dict[int, bytes] = {}
    try:
        text = block.decode("utf-8")
        lines = text.split("\n")
        if "\x00" in text:
            for i, line in enumerate(lines):
                if "\x00" in line:
                    undecodable[first + i] = line.encode("utf-8")
                    lines[i] = line.replace("\x00", "\\x00")
    except UnicodeDecodeError:
        lines = []
        for i, raw in enumerate(block.split(b"\n")):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                undecodable[first + i] = raw
                line = raw.decode("utf-8", "backslashreplace")
            if "\x00" in line:
                undecodable[first + i] = raw
                line = line.replace("\x00", "\\x00")
            lines.append(line)
    numbered = list(enumerate((ln[:-1] if ln.endswith("\r") else ln for ln in lines), first))
    cut: list[ParseProblem] = []
    if any(len(t) >= limit // 4 for _, t in numbered):
        kept = []
        for n, t in numbered:
            if len(t) >= limit // 4 and len(t.encode("utf-8", "surrogatepass")) >= limit:
                cut.append(
                    ParseProblem(
                        n,
                        f"line longer than the {limit:,}-byte limit; "
                        "its start is kept (raise --max-line-bytes)",
                        t,
                    )
                )
            else:
                kept.append((n, t))
        numbered = kept
    return numbered, undecodable, cut


def parse_block(
    chain: tuple[str, ...], primary: str | None, reason: str, block: bytes, first: int, limit: int
) -> BlockResult:
    """Parse one block; runs in a worker process.

    The cyclic garbage collector is paused meanwhile: a block makes hundreds of
    thousands of small tuples and no cycles, and each collection would rescan them.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        numbered, undecodable, problems = split_lines(block, first, limit)
        lines = len(numbered) + len(problems)
        batches: list[pa.RecordBatch] = []
        if chain:
            fmt = sources.BY_NAME[primary] if primary else None
            choice = sources.Choice(fmt, tuple(sources.BY_NAME[n] for n in chain), reason)
            rest = numbered
            if numbered and not undecodable and not problems:
                fast, rest = _parse_columns(numbered, first, choice)
                if fast is not None:
                    batches.append(fast)
            events: list[Event] = []
            for item in sources.parse_lines(rest, choice):
                if isinstance(item, Event):
                    events.append(item)
                else:
                    problems.append(item)
            if events:
                batches.append(store.events_batch(events, undecodable))
            del events, rest
        else:
            problems.extend(ParseProblem(n, reason, t) for n, t in numbered)
        del numbered
        batch = _in_line_order(batches)
    finally:
        if collecting:
            gc.enable()
    # Hand freed Arrow buffers back to the system: a worker parses block after
    # block, and its memory must not creep up with the size of the input.
    pa.default_memory_pool().release_unused()
    return BlockResult(batch, problems, lines, len(undecodable))


def _parse_columns(
    numbered: list[tuple[int, str]], first: int, choice: sources.Choice
) -> tuple[pa.RecordBatch | None, list[tuple[int, str]]]:
    """The columnar fast path over consecutive clean lines: its batch, and the
    lines it left for the line parsers."""
    texts = [t for _, t in numbered]
    raw = pa.array(texts, pa.large_string())
    parsed = sources.parse_columns("\n".join(texts), raw, choice)
    if parsed is None:
        return None, numbered
    claimed = pc.fill_null(parsed.claimed, False)
    taken = claimed.true_count
    if taken == 0:
        return None, numbered
    batch = store.columns_batch(parsed.columns, claimed, first, raw)
    if taken == len(texts):
        return batch, []
    left = pc.indices_nonzero(pc.invert(claimed)).to_pylist()
    return batch, [numbered[i] for i in left]


def _in_line_order(batches: list[pa.RecordBatch]) -> pa.RecordBatch | None:
    """One batch in file order (Dec->Jan rollovers are counted in that order)."""
    if not batches:
        return None
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).sort_by("line").combine_chunks()
    return table.to_batches()[0]


@dataclass
class Rollover:
    """Per-file state for counting Dec->Jan rollovers of yearless readings across blocks."""

    last: int | None = None
    years: int = 0


GAP_US = ROLLOVER_GAP_DAYS * 86_400 * 1_000_000


def count_rollovers(batch: pa.RecordBatch, state: Rollover) -> pa.RecordBatch:
    """Set ``year_offset``: how many times the yearless readings so far jumped back
    by half a year (a Dec->Jan rollover inside the file)."""
    yearless = batch.column("year_inferred")
    readings = pc.filter(batch.column("reading").cast(pa.int64()), yearless)
    if len(readings) == 0:
        return batch
    previous = pa.concat_arrays(
        [
            pa.array([readings[0].as_py() if state.last is None else state.last], pa.int64()),
            readings[:-1],
        ]
    )
    jumps = pc.less(readings, pc.subtract(previous, GAP_US))
    offsets = pc.add(pc.cumulative_sum(jumps.cast(pa.int32())), state.years)
    state.years = offsets[-1].as_py()
    state.last = readings[-1].as_py()
    if state.years == 0:
        return batch
    zeros = pa.array([0] * batch.num_rows, pa.int64())
    column = pc.replace_with_mask(zeros, yearless, offsets.cast(pa.int64())).cast(pa.int16())
    index = batch.schema.get_field_index("year_offset")
    return batch.set_column(index, "year_offset", column)


class _Inline(Executor):
    """Runs jobs in this process (``--jobs 1``, tests, tiny inputs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


PARALLEL_BYTES = 8 << 20
"""Inputs smaller than this are parsed in-process: starting workers costs more."""


COMPRESSION_RATIO = 8
"""Log text compresses about this well: a compressed input counts this many times
its size when judging whether it is worth starting workers."""


def _file_bytes(path: str) -> int:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
    return size * COMPRESSION_RATIO if is_packed(head) else size


def _input_bytes(root: str) -> int:
    """Roughly how many bytes of text ``root`` holds, counting up to :data:`PARALLEL_BYTES`."""
    if os.path.isfile(root):
        try:
            return _file_bytes(root)
        except OSError:
            return 0
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                total += _file_bytes(os.path.join(folder, name))
            except OSError:
                continue
            if total >= PARALLEL_BYTES:
                return total
    return total


def _executor(jobs: int, root: str) -> Executor:
    workers = jobs or (os.cpu_count() or 1)
    if workers <= 1 or (jobs == 0 and _input_bytes(root) < PARALLEL_BYTES):
        return _Inline()
    # forkserver: workers start from a clean process, never from one whose
    # DuckDB threads might hold locks at the moment of fork.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["reportgen.ingest"])
    return ProcessPoolExecutor(workers, mp_context=context)


def _forced_format(opened: Opened, forced: dict[str, str]) -> str | None:
    src = opened.source
    for key in (src.display, src.member or "", os.path.basename(src.member or src.path), src.path):
        if key and key in forced:
            return forced[key]
    return None


def _sample(block: bytes, limit: int) -> list[str]:
    """Non-blank lines for sniffing; lines cut at the length limit say nothing of the format."""
    numbered, _, _ = split_lines(block[: 1 << 20], 1, limit)
    return [t for _, t in numbered if t.strip()][: sources.SAMPLE_LINES]


Progress = Callable[[str, int], None]
"""Called with (file shown, bytes read so far) as blocks are read."""


def ingest(
    root: str, db_path: str, options: Options, progress: Progress | None = None
) -> tuple[duckdb.DuckDBPyConnection, list[FileStats]]:
    """Read ``root`` into a new store at ``db_path``; returns the store and per-file stats."""
    executor = _executor(options.jobs, root)
    con = store.create(db_path)
    all_stats: list[FileStats] = []
    problems: list[InputProblem] = []
    writer = store.EventWriter(con)
    con.execute("BEGIN")
    try:
        file_id = 0
        for opened in open_inputs(root, options.limits):
            if opened.problem is not None:
                problems.append(opened.problem)
            if opened.stream is None:
                continue
            file_id += 1
            all_stats.append(
                _ingest_file(writer, executor, file_id, opened, options, problems, progress)
            )
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        writer.close()
    _record_sources(con, all_stats)
    store.add_input_problems(con, problems)
    settle(con, options)
    con.execute("COMMIT")
    return con, all_stats


def _ingest_file(
    writer: store.EventWriter,
    executor: Executor,
    file_id: int,
    opened: Opened,
    options: Options,
    problems: list[InputProblem],
    progress: Progress | None,
) -> FileStats:
    limits = options.limits
    display = opened.source.display
    stats = FileStats(opened.source, None, "ok")
    blocks = read_blocks(opened, limits)
    queue: deque[Future[BlockResult]] = deque()
    stored_problems = 0
    rollover = Rollover()

    def drain(keep: int) -> None:
        nonlocal stored_problems
        while len(queue) > keep:
            result = queue.popleft().result()
            stats.lines += result.lines
            stats.problems += len(result.problems)
            stats.invalid_utf8 += result.invalid_utf8
            if result.batch is not None:
                stats.events += result.batch.num_rows
                writer.add(file_id, count_rollovers(result.batch, rollover))
            room = MAX_PROBLEM_ROWS - stored_problems
            if room > 0 and result.problems:
                writer.add_problems(file_id, display, result.problems[:room])
                stored_problems += min(room, len(result.problems))

    chain: tuple[str, ...] = ()
    primary: str | None = None
    reason = ""
    chosen = False
    held: list[bytes] = []  # blocks read while the sample is still too small to sniff
    sample: list[str] = []
    next_line = 1

    def choose() -> None:
        nonlocal chain, primary, reason, chosen
        forced = _forced_format(opened, options.forced)
        if forced is not None:
            choice = sources.forced(sources.BY_NAME[forced])
            stats.status = "forced"
        else:
            stats.scores = sources.scores(sample[: sources.SAMPLE_LINES])
            choice = sources.choose(stats.scores)
            if choice.format is None:
                stats.status = "unrecognized"
        chain = tuple(f.name for f in choice.chain)
        primary = choice.format.name if choice.format else None
        stats.format = primary
        reason = choice.reason if choice.format is None else ""
        stats.reason = choice.reason
        chosen = True

    def submit(block: bytes) -> None:
        nonlocal next_line
        first = next_line
        next_line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        queue.append(
            executor.submit(
                parse_block,
                chain,
                primary,
                reason or "unrecognized line",
                block,
                first,
                limits.max_line_bytes,
            )
        )
        drain(IN_FLIGHT)

    def release() -> None:
        if not held:
            return
        if not chosen:
            choose()
        while held:
            submit(held.pop(0))

    try:
        try:
            for block in blocks:
                stats.bytes_read += len(block)
                if progress is not None:
                    progress(display, len(block))
                if chosen:
                    submit(block)
                    continue
                held.append(block)
                sample += _sample(block, limits.max_line_bytes)
                if len(sample) >= sources.SAMPLE_LINES or stats.bytes_read >= SNIFF_BYTES:
                    release()
        finally:
            release()  # what was read before a failure is still parsed
        drain(0)
    except ReadFailure as exc:
        drain(0)
        stats.status = "truncated"
        stats.reason = str(exc)
        problems.append(InputProblem(display, str(exc)))
    if stats.lines == 0 and stats.status == "ok":
        stats.status = "empty"
        stats.reason = "no lines"
    return stats


def _record_sources(con: duckdb.DuckDBPyConnection, all_stats: list[FileStats]) -> None:
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "file_id",
            "file",
            "path",
            "member",
            "compression",
            "size",
            "mtime",
            "rotation_set",
            "rotation_index",
            "format",
            "status",
            "reason",
            "scores",
            "lines",
            "events",
            "problems",
            "invalid_utf8",
            "bytes",
        )
    }
    for file_id, stats in enumerate(all_stats, 1):
        src = stats.source
        for name, value in (
            ("file_id", file_id),
            ("file", src.display),
            ("path", src.path),
            ("member", src.member),
            ("compression", src.compression),
            ("size", src.size),
            ("mtime", datetime.fromtimestamp(src.mtime, UTC) if src.mtime is not None else None),
            ("rotation_set", src.rotation_set),
            ("rotation_index", src.rotation_index),
            ("format", stats.format),
            ("status", stats.status),
            ("reason", stats.reason),
            ("scores", orjson.dumps(stats.scores).decode()),
            ("lines", stats.lines),
            ("events", stats.events),
            ("problems", stats.problems),
            ("invalid_utf8", stats.invalid_utf8),
            ("bytes", stats.bytes_read),
        ):
            columns[name].append(value)
    table = pa.table(columns)
    con.register("_sources", table)
    try:
        con.execute(f"INSERT INTO sources BY NAME SELECT {', '.join(columns)} FROM _sources")
    finally:
        con.unregister("_sources")


# --- settling years, hosts and zones ------------------------------------------
# These write only to ``sources``: the ``events`` view applies each file's year
# shift, host and zone to its raw readings.

WEB_PROGRAMS = ("httpd", "apache", "apache2")


def _web_host(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str]:
    """The host that wrote the Apache logs, which name none."""
    candidates = [h for h, role in store.host_roles(con).items() if role == "server"]
    if len(candidates) == 1:
        return candidates[0], "the only host in the bundle with its own syslog (not a sensor)"
    web = [
        r[0]
        for r in con.execute(
            f"""SELECT DISTINCT host FROM events_raw WHERE source = 'syslog'
        AND program IN {WEB_PROGRAMS} ORDER BY host"""
        ).fetchall()
    ]
    if len(web) == 1:
        return web[0], "the only host whose syslog mentions the web server"
    return None, f"not named in the logs ({len(candidates)} candidate hosts); unknown"


def settle(con: duckdb.DuckDBPyConnection, options: Options) -> None:
    """Give Apache files a host, yearless files a year, every file a zone."""
    warnings: list[str] = []
    if store.scalar(
        con, "SELECT count(*) FROM sources WHERE format IN ('apache_access', 'apache_error')"
    ):
        host, basis = _web_host(con)
        con.execute(
            """UPDATE sources SET host = ?, host_basis = ?
            WHERE format IN ('apache_access', 'apache_error')""",
            [host, basis],
        )
    con.execute("""UPDATE sources SET host = h.host, host_basis = 'named on its lines'
        FROM (SELECT file_id, mode(host) AS host FROM events_raw WHERE host IS NOT NULL
              GROUP BY file_id) h
        WHERE sources.file_id = h.file_id AND sources.host IS NULL""")
    _assign_years(con, options, warnings)
    _assign_zones(con, options, warnings)
    con.execute("""UPDATE sources SET first_reading = f.lo, last_reading = f.hi,
        first_ts = f.ts_lo, last_ts = f.ts_hi, formats = f.formats
        FROM (SELECT file_id, min(lo) AS lo, max(hi) AS hi, min(ts_lo) AS ts_lo, max(ts_hi) AS ts_hi,
                     to_json(map(list(source ORDER BY source), list(n ORDER BY source))) AS formats
              FROM (SELECT file_id, source, count(*) AS n, min(reading) AS lo, max(reading) AS hi,
                           min(ts) AS ts_lo, max(ts) AS ts_hi FROM events GROUP BY ALL)
              GROUP BY file_id) f
        WHERE sources.file_id = f.file_id""")
    store.set_run(con, "warnings", warnings)


def _assign_years(con: duckdb.DuckDBPyConnection, options: Options, warnings: list[str]) -> None:
    anchors = [
        (datetime_to_reading(lo), datetime_to_reading(hi))
        for lo, hi in con.execute(
            """SELECT min(reading), max(reading) FROM events_raw WHERE NOT year_inferred
        GROUP BY file_id"""
        ).fetchall()
    ]
    per_file = con.execute(
        """SELECT file_id, s.rotation_set, epoch(s.mtime),
               arg_min(reading, line), arg_max(reading, line), max(year_offset),
               bool_or(month(reading) = 2 AND day(reading) = 29)
        FROM events_raw JOIN sources s USING (file_id) WHERE year_inferred
        GROUP BY ALL ORDER BY s.rotation_set, any_value(s.rotation_index) DESC"""
    ).fetchall()
    sets: dict[str, list[tuple[Any, ...]]] = {}
    for row in per_file:
        sets.setdefault(row[1], []).append(row)
    for files in sets.values():
        # Oldest file first; a newer file that starts half a year "before" the
        # older one ended has crossed into the next year.
        offsets: list[int] = []
        years = 0
        previous_last: datetime | None = None
        for _, _, _, first, last, rolled, _ in files:
            if previous_last is not None and (previous_last - first).days > ROLLOVER_GAP_DAYS:
                years += 1
            offsets.append(years)
            years += rolled
            previous_last = last
        mtimes = [r[2] for r in files if r[2] is not None]
        span = YearlessSpan(
            datetime_to_reading(files[0][3]),
            shift_years(datetime_to_reading(files[-1][4]), years),
            float(max(mtimes)) if mtimes else None,
            any(r[6] for r in files),
        )
        choice = infer_year(span, anchors, options.year)
        if choice.basis in ("mtime", "default"):
            warnings.append(f"{files[0][1]}: {choice.detail}")
        for row, offset in zip(files, offsets, strict=True):
            con.execute(
                """UPDATE sources SET year = ?, year_shift = ?, year_basis = ?, year_detail = ?
                WHERE file_id = ?""",
                [
                    choice.year + offset,
                    choice.year - YEARLESS_BASE + offset,
                    choice.basis,
                    choice.detail,
                    row[0],
                ],
            )


def _assign_zones(con: duckdb.DuckDBPyConnection, options: Options, warnings: list[str]) -> None:
    """Zone per host: --tz, else the host's Apache offsets, else UTC with a warning."""
    stated = {
        host: (offset, n)
        for host, offset, n in con.execute(
            """SELECT s.host, mode(utc_offset), count(DISTINCT utc_offset)
        FROM events_raw JOIN sources s USING (file_id)
        WHERE utc_offset IS NOT NULL AND s.host IS NOT NULL AND source = 'apache_access'
        GROUP BY s.host"""
        ).fetchall()
    }
    hosts = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT host FROM sources WHERE host IS NOT NULL ORDER BY host"
        ).fetchall()
    ]
    for host in [*hosts, None]:
        zone, basis = _zone_for(host, options, stated)
        where = "host = ?" if host is not None else "host IS NULL"
        params: list[Any] = [host] if host is not None else []
        if host is None and not store.scalar(
            con, f"SELECT count(*) FROM sources WHERE {where} AND events > 0"
        ):
            continue
        if basis.startswith("assumed"):
            warnings.append(f"{host or 'files naming no host'}: {basis}")
        con.execute(
            f"UPDATE sources SET zone = ?, zone_offset = ?, zone_basis = ? WHERE {where}",
            [zone.name, zone.fixed_offset, basis, *params],
        )


def _zone_for(
    host: str | None, options: Options, stated: dict[str, tuple[int, int]]
) -> tuple[Zone, str]:
    if host is not None and host in options.zones:
        return options.zones[host], "given with --tz"
    if "*" in options.zones:
        return options.zones["*"], "given with --tz for every host"
    if host is not None and host in stated:
        offset, distinct = stated[host]
        note = "" if distinct == 1 else f" (most common of {distinct} offsets seen; DST?)"
        return Zone(
            format_offset(offset), offset
        ), f"from the host's Apache access log offsets{note}"
    return Zone("UTC", 0), "assumed UTC: no zone stated in the logs and none given with --tz"
