"""Columnar parsing: the fast path for the formats that fill the largest files.

Not a format itself (it has no ``NAME``). Firewall and IDS logs run to millions
of lines; building one Python event object per line, then a dict, then JSON,
then an Arrow column, costs several times what matching the line does. A format
may therefore also offer ``parse_columns(text, raw)``: it runs *the same regular
expression* its ``parse_line`` uses over every line of a block in one ``findall``
(Python's own engine, so the match is the same by construction) and turns the
captured groups into Arrow columns with vectorized compute. Each format declares
``MARKERS``, strings every line it accepts holds, so that the fast path of a less
specific format can leave alone the lines a more specific one might read.

The fast path is only ever an accelerator. It claims a line only when it is sure
to produce exactly the event ``parse_line`` would (plain ASCII, no control
characters, numbers that fit); every other line goes to ``parse_line`` as
before. A property test checks the two agree on every line the fast path claims.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from reportgen.clock import DAY_US, MONTHS, US, YEARLESS_BASE, date_time_reading

Columns = dict[str, pa.Array]

# RFC 3164 spells months "Jan"; the pattern admits no other case.
_MONTH_NAMES = pa.array([name.capitalize() for name in MONTHS])
_MONTH_START = pa.array(
    [date_time_reading(YEARLESS_BASE, m, 1, 0, 0, 0) for m in MONTHS.values()], pa.int64()
)
_MONTH_DAYS = pa.array(
    [calendar.monthrange(YEARLESS_BASE, m)[1] for m in MONTHS.values()], pa.int64()
)
_UNSAFE = r"[\x00-\x1f\x7f]"
"""Characters after which a line leaves the fast path (JSON escapes, ``\\s`` subtleties)."""
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
"""The same, but for the newlines that join a block's lines."""
MAX_DIGITS = 18
"""Longer digit strings do not fit a 64-bit integer: such lines leave the fast path."""


@dataclass(frozen=True)
class Parsed:
    """What a columnar parser read: event columns for the lines it claims."""

    claimed: pa.BooleanArray
    """One flag per input line: True where the columns hold that line's event."""
    columns: Columns
    """Event fields (names of :class:`~reportgen.model.Event`), one value per input
    line; values of unclaimed lines are meaningless."""


def line_pattern(body: str) -> re.Pattern[str]:
    """A pattern that matches every line of a text once: ``body`` (anchored at the
    line's start, as ``parse_line`` matches it) or, failing that, the bare line.

    ``body`` must not match across a newline: no ``\\s``, no DOTALL, and negated
    classes that exclude ``\\n``. Lines never hold one, so on a single line the
    pattern means what ``parse_line``'s does.
    """
    return re.compile(r"^(?:" + body + r".*|.*)$", re.MULTILINE)


def match_lines(pattern: re.Pattern[str], text: str, count: int) -> pa.StructArray | None:
    """The groups of ``pattern`` (from :func:`line_pattern`) on each of the ``count``
    lines of ``text``, as one struct of strings per line; ``""`` where a group did
    not take part. None if the matches do not line up with the lines.

    ``findall`` runs the whole loop inside the regular expression engine: no match
    object per line, and the rows go to Arrow in one conversion.
    """
    rows = pattern.findall(text)
    if len(rows) != count:
        return None
    names = {number: name for name, number in pattern.groupindex.items()}
    fields = [(names.get(i, f"_{i}"), pa.string()) for i in range(1, pattern.groups + 1)]
    if pattern.groups == 1:
        rows = [(r,) for r in rows]
    return pa.array(rows, pa.struct(fields))


def given(values: pa.Array) -> pa.Array:
    """Empty strings (a group that did not take part) as null."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def constant(value: object, count: int, kind: pa.DataType) -> pa.Array:
    """A column holding one value."""
    return pa.repeat(pa.scalar(value, kind), count)


def clean_lines(text: str, raw: pa.Array) -> pa.BooleanArray:
    """Plain ASCII lines with no control characters: on those, Python's ``\\s``,
    ``\\d`` and ``str.strip`` mean what the vectorized functions do, and JSON
    needs no escapes but for quotes and backslashes. The fast path leaves every
    other line to ``parse_line``."""
    if text.isascii() and _CONTROL.search(text) is None:  # the common case, at C speed
        return constant(True, len(raw), pa.bool_())
    return pc.and_(pc.string_is_ascii(raw), pc.invert(pc.match_substring_regex(raw, _UNSAFE)))


def fits(*digits: pa.Array) -> pa.BooleanArray:
    """True where every given digit string (or null) fits a 64-bit integer."""
    ok = constant(True, len(digits[0]), pa.bool_())
    for column in digits:
        short = pc.less_equal(pc.utf8_length(column), MAX_DIGITS)
        ok = pc.and_(ok, pc.fill_null(short, True))
    return ok


def to_int(digits: pa.Array, claimed: pa.BooleanArray) -> pa.Array:
    """Digit strings to 64-bit integers; unclaimed rows become null rather than failing."""
    kept = pc.if_else(claimed, digits, pa.scalar(None, pa.string()))
    return pc.cast(kept, pa.int64())


def port(digits: pa.Array, claimed: pa.BooleanArray) -> pa.Array:
    """A port number, null when absent or beyond 65535 (as ``parse_line`` does)."""
    value = to_int(digits, claimed)
    return pc.cast(
        pc.if_else(pc.less(value, 65536), value, pa.scalar(None, pa.int64())), pa.int32()
    )


def yearless_readings(
    mon: pa.Array, day: pa.Array, hms: pa.Array, claimed: pa.BooleanArray
) -> tuple[pa.Array, pa.BooleanArray]:
    """RFC 3164 ``Mon dd hh:mm:ss`` to readings in :data:`YEARLESS_BASE`, and where
    they are valid, by the same rules as :func:`reportgen.clock.month_day_reading`."""
    month = pc.index_in(mon, _MONTH_NAMES)
    day_n = to_int(pc.utf8_trim_whitespace(day), claimed)
    hh = to_int(pc.utf8_slice_codeunits(hms, 0, 2), claimed)
    mm = to_int(pc.utf8_slice_codeunits(hms, 3, 5), claimed)
    ss = to_int(pc.utf8_slice_codeunits(hms, 6, 8), claimed)
    valid = pc.and_(
        pc.and_(pc.is_valid(month), pc.less_equal(hms, "23:59:60")),
        pc.and_(
            pc.and_(pc.less(mm, 60), pc.less(ss, 70)),
            pc.and_(pc.greater_equal(day_n, 1), pc.less_equal(day_n, pc.take(_MONTH_DAYS, month))),
        ),
    )
    valid = pc.fill_null(valid, False)
    seconds = pc.add(pc.add(pc.multiply(hh, 3600), pc.multiply(mm, 60)), ss)
    reading = pc.add(
        pc.add(pc.take(_MONTH_START, month), pc.multiply(pc.subtract(day_n, 1), DAY_US)),
        pc.multiply(seconds, US),
    )
    return reading, valid


@dataclass(frozen=True)
class SyslogBlock:
    """A block of syslog-carried lines read by a format's ``line_pattern``."""

    groups: Columns
    """Each named group; those in ``optional`` hold null where they took no part."""
    claimed: pa.BooleanArray
    """Lines the pattern matched (``key`` took part), clean, with a valid time."""
    reading: pa.Array
    escape: bool
    """Whether any line holds a quote or backslash (JSON strings need escaping)."""


def read_syslog_block(
    pattern: re.Pattern[str],
    text: str,
    raw: pa.Array,
    key: str,
    optional: Sequence[str],
) -> SyslogBlock | None:
    """Match ``pattern`` (an RFC 3164 header, then the format's body) on every line
    and read the header's time; ``key`` is a group that takes part exactly when the
    body matched. None if the matches do not line up with the lines."""
    found = match_lines(pattern, text, len(raw))
    if found is None:
        return None
    groups = {name: found.field(name) for name in pattern.groupindex}
    groups |= {name: given(groups[name]) for name in optional}
    claimed = pc.and_(pc.is_valid(given(groups[key])), clean_lines(text, raw))
    reading, valid = yearless_readings(groups["mon"], groups["day"], groups["hms"], claimed)
    escape = '"' in text or "\\" in text
    return SyslogBlock(groups, pc.and_(claimed, valid), reading, escape)


def json_string(values: pa.Array, escape: bool = True) -> pa.Array:
    """JSON string literals of ASCII values without control characters (``escape``:
    False when the caller knows they hold no quote or backslash)."""
    if escape:
        values = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise('"', values, '"', "")


Member = tuple[str, pa.Array, pa.Array | None]
"""A JSON object member: key, its JSON-encoded value, and where it is present
(None: always)."""


def json_object(members: Sequence[Member]) -> pa.Array:
    """One JSON object per row, members in the given order, absent ones left out.
    The first member must always be present."""
    if not members or members[0][2] is not None:
        raise ValueError("the first member of a JSON object must always be present")
    pieces: list[pa.Array | str] = ["{"]
    for key, value, present in members:
        label = f'"{key}":' if len(pieces) == 1 else f',"{key}":'
        if present is None:
            pieces += [label, value]
        else:
            member = pc.binary_join_element_wise(label, value, "")
            pieces.append(pc.fill_null(pc.if_else(present, member, ""), ""))
    return pc.binary_join_element_wise(*pieces, "}", "")


def syslog_flow(
    g: Columns, claimed: pa.BooleanArray, reading: pa.Array, source: str, kind: str
) -> Columns:
    """The columns every syslog-carried packet or alert event shares: its clock
    reading (yearless), format and kind, header, addresses, ports and protocol.
    ``g`` holds the groups ``host prog pid src spt dst dpt proto``."""
    n = len(reading)
    return {
        "reading": reading,
        "year_inferred": constant(True, n, pa.bool_()),
        "source": constant(source, n, pa.string()),
        "kind": constant(kind, n, pa.string()),
        "host": g["host"],
        "program": g["prog"],
        "pid": to_int(g["pid"], claimed),
        "src_ip": g["src"],
        "src_port": port(g["spt"], claimed),
        "dst_ip": g["dst"],
        "dst_port": port(g["dpt"], claimed),
        "proto": g["proto"],
    }


ColumnParser = Callable[[str, pa.Array], "Parsed | None"]
"""``parse_columns(text, raw)``: a block's clean lines joined by newlines, and the
same lines as an Arrow column; None if the fast path cannot read the block."""
