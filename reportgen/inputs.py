"""Inputs: directories, single files, compressed files and archives, read in place.

Compression and archives are recognized by their magic bytes, never by name.
Archives are streamed member by member without unpacking anything to disk, so
member names (``../../etc/passwd``, absolute paths) cannot make reportgen write
anywhere; they are only shown, escaped, in the report. Symbolic links to
directories are followed once (loops are detected); problems with one input
(unreadable, corrupt, truncated) are reported and the rest goes on.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from reportgen.model import InputProblem, SourceFile

BLOCK = 1 << 22
"""Bytes read at a time; lines are cut at the last newline of each block."""


@dataclass(frozen=True)
class Limits:
    """Limits that protect the machine; each can be raised on the command line."""

    max_line_bytes: int = 1 << 20
    max_file_bytes: int = 20 << 30
    max_files: int = 100_000
    max_archive_depth: int = 2


class ReadFailure(Exception):
    """A stream could not be read to its end (corrupt or truncated)."""


_ROTATED = re.compile(r"^(?P<base>.+?)(?:[.-](?P<n>\d{1,3}|\d{8}))?(?:\.(?:gz|bz2|xz|Z))?$")
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


def rotation(name: str) -> tuple[str, int]:
    """``messages.2.gz`` -> ("messages", 2); ``messages-20110615`` -> dated, older = larger."""
    m = _ROTATED.match(name)
    if m is None or m["n"] is None:
        return name, 0
    n = m["n"]
    if len(n) == 8:
        return m["base"], 99_999_999 - int(n)
    return m["base"], int(n)


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_packed(head: bytes) -> bool:
    """Whether a file starting with ``head`` is compressed or a zip archive."""
    return head.startswith(ZIP_MAGIC) or _magic(head) is not None


def _magic(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


def _decompressor(kind: str | None, raw: IO[bytes]) -> IO[bytes]:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    if kind == "xz":
        return lzma.LZMAFile(raw)
    return raw


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _suspicious_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


@dataclass
class Opened:
    """One input file, ready to read, or the problem that stopped it."""

    source: SourceFile
    stream: IO[bytes] | None
    problem: InputProblem | None = None


class _Peek(io.RawIOBase):
    """A stream with its first bytes already read (to sniff magic numbers)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _peekable(stream: IO[bytes], size: int = 512) -> tuple[bytes, IO[bytes]]:
    head = stream.read(size)
    return head, io.BufferedReader(_Peek(head, stream), BLOCK)


def _walk(root: str, problems: list[InputProblem]) -> list[str]:
    """Regular files below ``root``, following directory links once (no loops)."""
    seen: set[tuple[int, int]] = set()
    files: list[str] = []

    def visit(path: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            problems.append(InputProblem(path, f"cannot read: {exc.strerror or exc}"))
            return
        key = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            if key in seen:
                problems.append(InputProblem(path, "directory link loop; visited once"))
                return
            seen.add(key)
            try:
                names = sorted(os.listdir(path))
            except OSError as exc:
                problems.append(InputProblem(path, f"cannot list: {exc.strerror or exc}"))
                return
            for name in names:
                visit(os.path.join(path, name))
        elif stat.S_ISREG(st.st_mode):
            files.append(path)
        else:
            problems.append(InputProblem(path, "not a regular file; skipped"))

    visit(root)
    return files


def _source(
    display: str,
    path: str,
    member: str | None,
    compression: str | None,
    size: int,
    mtime: float | None,
) -> SourceFile:
    base, index = rotation(os.path.basename(member or path))
    folder = os.path.dirname(display)
    return SourceFile(
        display, path, member, compression, size, mtime, os.path.join(folder, base), index
    )


def open_inputs(root: str, limits: Limits = Limits()) -> Iterator[Opened]:
    """Every readable log file under ``root``, in a stable order, opened for reading.

    Archive members are yielded as the archive is streamed, so each stream must
    be consumed before the next item is requested.
    """
    problems: list[InputProblem] = []
    paths = _walk(root, problems)
    base_dir = os.path.dirname(root) if os.path.isfile(root) else root
    for p in problems:
        shown = os.path.relpath(p.display, base_dir) if p.display != root else p.display
        problem = InputProblem(shown, p.reason)
        yield Opened(_source(shown, p.display, None, None, 0, None), None, problem)
    count = 0
    for path in paths:
        display = os.path.relpath(path, base_dir) if path != root else os.path.basename(path)
        for opened in _open_path(path, display, limits):
            count += 1
            if count > limits.max_files:
                yield Opened(
                    opened.source,
                    None,
                    InputProblem(
                        opened.source.display,
                        f"more than {limits.max_files} files; skipped (raise --max-files)",
                    ),
                )
                if opened.stream is not None:
                    opened.stream.close()
                continue
            yield opened


def _open_path(path: str, display: str, limits: Limits) -> Iterator[Opened]:
    try:
        st = os.stat(path)
        raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the consumer
    except OSError as exc:
        src = _source(display, path, None, None, 0, None)
        yield Opened(src, None, InputProblem(display, f"cannot read: {exc.strerror or exc}"))
        return
    head = raw.read(512)
    raw.seek(0)
    if head.startswith(ZIP_MAGIC):
        yield from _zip_members(path, display, raw, limits, 1)
        return
    compression = _magic(head)
    stream = _decompressor(compression, raw)
    try:
        inner, stream = _peekable(stream)
    except _DECOMPRESS_ERRORS as exc:
        src = _source(display, path, None, compression, st.st_size, st.st_mtime)
        raw.close()
        yield Opened(src, None, InputProblem(display, f"corrupt {compression} data: {exc}"))
        return
    if _is_tar(inner):
        yield from _tar_members(path, display, stream, limits, 1)
        raw.close()
        return
    yield Opened(_source(display, path, None, compression, st.st_size, st.st_mtime), stream)


def _member_stream(
    path: str,
    display: str,
    member: str,
    stream: IO[bytes],
    size: int,
    mtime: float | None,
    limits: Limits,
    depth: int,
) -> Iterator[Opened]:
    """A member's bytes: decompressed when compressed, expanded when an archive."""
    shown = f"{display}!{member}"
    notes: list[InputProblem] = []
    if _suspicious_name(member):
        notes.append(
            InputProblem(
                shown, "member name is absolute or climbs with '..'; read in place, never extracted"
            )
        )
    try:
        head, stream = _peekable(stream)
        compression = _magic(head)
        if compression is not None:
            stream = _decompressor(compression, stream)
            head, stream = _peekable(stream)
    except _DECOMPRESS_ERRORS as exc:
        yield Opened(
            _source(shown, path, member, None, size, mtime),
            None,
            InputProblem(shown, f"corrupt member: {exc}"),
        )
        return
    for note in notes:
        yield Opened(_source(shown, path, member, compression, size, mtime), None, note)
    if _is_tar(head) and depth < limits.max_archive_depth:
        yield from _tar_members(path, shown, stream, limits, depth + 1)
        return
    yield Opened(_source(shown, path, member, compression, size, mtime), stream)


def _tar_members(
    path: str, display: str, stream: IO[bytes], limits: Limits, depth: int
) -> Iterator[Opened]:
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - streamed, members read in turn
        for info in archive:
            if not info.isfile():
                continue
            member = archive.extractfile(info)
            if member is None:
                continue
            yield from _member_stream(
                path, display, info.name, member, info.size, float(info.mtime), limits, depth
            )
    except (tarfile.TarError, *_DECOMPRESS_ERRORS) as exc:
        src = _source(display, path, None, None, 0, None)
        yield Opened(src, None, InputProblem(display, f"corrupt archive, rest skipped: {exc}"))


def _zip_members(
    path: str, display: str, raw: IO[bytes], limits: Limits, depth: int
) -> Iterator[Opened]:
    try:
        archive = zipfile.ZipFile(raw)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, *_DECOMPRESS_ERRORS) as exc:
        src = _source(display, path, None, None, 0, None)
        yield Opened(src, None, InputProblem(display, f"corrupt zip archive: {exc}"))
        return
    for info in infos:
        mtime = _zip_mtime(info)
        try:
            member = archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, *_DECOMPRESS_ERRORS) as exc:
            shown = f"{display}!{info.filename}"
            yield Opened(
                _source(shown, path, info.filename, None, info.compress_size, mtime),
                None,
                InputProblem(shown, f"corrupt member: {exc}"),
            )
            continue
        yield from _member_stream(
            path, display, info.filename, member, info.compress_size, mtime, limits, depth
        )


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    import calendar

    try:
        return float(calendar.timegm((*info.date_time, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None


def _read_block(stream: IO[bytes]) -> bytes:
    """Up to :data:`BLOCK` bytes, gathered with ``read1`` so that a corrupt or
    truncated compressed stream gives up everything decoded before the damage."""
    parts: list[bytes] = []
    size = 0
    read1 = getattr(stream, "read1", None)
    if read1 is None:
        return stream.read(BLOCK)
    try:
        while size < BLOCK:
            part = read1(BLOCK - size)
            if not part:
                break
            parts.append(part)
            size += len(part)
    except (*_DECOMPRESS_ERRORS, tarfile.TarError, zipfile.BadZipFile) as exc:
        if parts:
            raise _PartialRead(b"".join(parts), exc) from exc
        raise
    return b"".join(parts)


class _PartialRead(Exception):
    def __init__(self, data: bytes, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.data = data
        self.cause = cause


def read_blocks(opened: Opened, limits: Limits) -> Iterator[bytes]:
    """The stream's bytes in blocks that end at a newline (the last may not).

    A line longer than ``limits.max_line_bytes`` is cut to that length and the
    rest of it skipped, so one endless line cannot exhaust memory; the line
    splitter reports such lines. Raises :class:`ReadFailure` after yielding what
    could be read when the stream is corrupt, truncated or over the size limit.
    """
    assert opened.stream is not None
    stream, limit = opened.stream, limits.max_line_bytes
    carry = b""
    skipping = False
    total = 0
    try:
        while True:
            try:
                block = _read_block(stream)
            except _PartialRead as partial:
                # Keep what was decoded before the damage, then report it.
                data = carry + partial.data
                total += len(partial.data)
                if data:
                    yield data
                raise ReadFailure(
                    f"read stopped after {total:,} bytes: {partial.cause}"
                ) from partial
            except (*_DECOMPRESS_ERRORS, tarfile.TarError, zipfile.BadZipFile) as exc:
                if carry:
                    yield carry
                raise ReadFailure(f"read stopped after {total:,} bytes: {exc}") from exc
            if not block:
                break
            total += len(block)
            if total > limits.max_file_bytes:
                if carry:
                    yield carry
                raise ReadFailure(
                    f"more than {limits.max_file_bytes:,} bytes; "
                    "rest skipped (raise --max-file-bytes)"
                )
            if skipping:
                newline = block.find(b"\n")
                if newline < 0:
                    continue
                yield carry + b"\n"
                carry, skipping, block = b"", False, block[newline + 1 :]
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            carry = data[cut + 1 :]
            if len(carry) > limit:
                carry, skipping = carry[:limit], True
            if cut >= 0:
                yield data[: cut + 1]
        if carry:
            yield carry
    finally:
        stream.close()
