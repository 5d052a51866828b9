"""The types that flow between stages: events, parse problems, source files.

No logic lives here. An :class:`Event` records a fact read from one log line,
with its time as the clock wrote it; judgments ("malicious", "noise") are never
fields of an event, they belong to findings made by the analyses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Event(NamedTuple):
    """One fact read from one log line.

    ``reading`` is the clock reading as written on the line, as microseconds
    since 1970-01-01 of a naive wall clock (no zone applied). ``utc_offset`` is
    the zone offset in seconds stated on the line itself, or None when the line
    states none (syslog, netfilter, Snort); the store fills in the host's zone
    assumption later. ``year_inferred`` marks readings whose line carries no
    year: they are parsed into :data:`reportgen.clock.YEARLESS_BASE` and given
    their year once the whole bundle has been read.

    A NamedTuple rather than a dataclass: parsers create one per line, and the
    store transposes batches of them into columns with ``zip``.
    """

    reading: int
    utc_offset: int | None
    year_inferred: bool
    source: str
    kind: str
    host: str | None
    program: str | None
    pid: int | None
    src_ip: str | None
    src_port: int | None
    dst_ip: str | None
    dst_port: int | None
    proto: str | None
    user: str | None
    action: str | None
    outcome: str | None
    message: str | None
    extra: dict[str, Any] | None
    line: int
    raw: str


class Malformed(str):
    """A parser's verdict: this line is of my format but broken (the text says how).

    A plain ``str`` verdict means "not my format", so the next format may try;
    a Malformed line stops there and becomes a parse problem.
    """

    __slots__ = ()


class ParseProblem(NamedTuple):
    """A line that no format could read, with the reason."""

    line: int
    reason: str
    raw: str


@dataclass(frozen=True)
class SourceFile:
    """One input file: a plain file, a compressed file, or an archive member."""

    display: str
    """Path shown to users: ``bundle.tar.gz!dir/messages.1`` for archive members."""
    path: str
    """File on disk that holds the bytes (the archive itself for members)."""
    member: str | None = None
    """Member name inside the archive, None for plain files."""
    compression: str | None = None
    """``gzip``, ``bzip2``, ``xz`` or None."""
    size: int = 0
    """Bytes on disk (compressed size for compressed files)."""
    mtime: float | None = None
    """Modification time as the file system or archive states it."""
    rotation_set: str = ""
    """Base name shared by rotated siblings (``messages`` for ``messages.2.gz``)."""
    rotation_index: int = 0
    """0 for the live file, N for ``name.N``: the higher, the older."""


@dataclass(frozen=True)
class InputProblem:
    """An input that could not be read, wholly or partly (corrupt, unreadable)."""

    display: str
    reason: str


@dataclass
class FileStats:
    """What ingesting one file produced; lines == events + problems, always."""

    source: SourceFile
    format: str | None
    status: str
    """``ok``, ``unrecognized``, ``forced``, ``truncated`` or ``error``."""
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    lines: int = 0
    events: int = 0
    problems: int = 0
    invalid_utf8: int = 0
    bytes_read: int = 0


# --- findings: judgments made by the analyses --------------------------------


@dataclass(frozen=True)
class Evidence:
    """One log line that supports a claim, with where it came from."""

    file: str
    line: int
    source: str
    clock: str
    reading: str
    """The time as written on the line (ISO, no zone), on ``clock``."""
    raw: str


@dataclass(frozen=True)
class SignificantEvent:
    """A benign, malicious or infrastructure event worth a line in the timeline."""

    id: str
    kind: str
    category: str
    """``benign``, ``malicious`` or ``infrastructure``."""
    host: str | None
    clock: str
    reading: str
    """First time, as read on ``clock`` (ISO, no zone)."""
    reference: str | None
    """The same instant on the reference clock (ISO), None if the clock is unaligned."""
    end_reading: str | None
    actors: tuple[str, ...]
    users: tuple[str, ...]
    summary: str
    confidence: str
    """``high``, ``medium`` or ``low``."""
    count: int
    """How many log lines this event stands for."""
    evidence: tuple[Evidence, ...]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """What one analysis concluded: a narrative in Markdown plus structured data."""

    name: str
    title: str
    narrative: str
    data: dict[str, Any]
