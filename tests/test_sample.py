"""The shared sample bundle: every line accounted for, formats recognized, time settled.

Skipped cleanly, with a message, when ../shared is absent.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.sample


def _member_lines(sample: Path) -> dict[str, int]:
    counts = {}
    with tarfile.open(sample) as tar:
        for info in tar:
            if info.isfile():
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
                counts[f"{sample.name}!{info.name}"] = data.count(b"\n") + (
                    0 if not data or data.endswith(b"\n") else 1
                )
    return counts


def test_every_line_of_the_sample_is_accounted_for(
    sample: Path, sample_store: duckdb.DuckDBPyConnection
) -> None:
    expected = _member_lines(sample)
    rows = sample_store.execute("SELECT file, lines, events, problems FROM sources").fetchall()
    assert {file: lines for file, lines, _, _ in rows} == expected
    for file, lines, events, problems in rows:
        assert lines == events + problems, file
    stored = sample_store.execute("SELECT count(*) FROM events_raw").fetchone()[0]
    assert stored == sum(events for _, _, events, _ in rows)


def test_nearly_every_line_of_recognized_formats_becomes_an_event(
    sample_store: duckdb.DuckDBPyConnection,
) -> None:
    for fmt, lines, events in sample_store.execute(
        "SELECT format, sum(lines), sum(events) FROM sources GROUP BY format"
    ).fetchall():
        assert fmt is not None
        assert events / lines >= 0.999, fmt


def test_sample_formats_hosts_and_time(sample_store: duckdb.DuckDBPyConnection) -> None:
    formats = {r[0] for r in sample_store.execute("SELECT DISTINCT format FROM sources").fetchall()}
    assert formats == {"apache_access", "apache_error", "syslog", "netfilter", "snort"}
    # The web logs name no host; it is inferred, and its zone comes from the access log.
    basis = sample_store.execute(
        "SELECT DISTINCT host_basis FROM sources WHERE format = 'apache_access'"
    ).fetchall()
    assert len(basis) == 1 and "only host" in basis[0][0]
    bases = {
        r[0]
        for r in sample_store.execute(
            "SELECT DISTINCT year_basis FROM sources WHERE year_basis IS NOT NULL"
        ).fetchall()
    }
    assert bases == {"bundle"}
    # every yearless reading lands inside the span of the dated lines
    lo, hi = sample_store.execute(
        "SELECT min(reading), max(reading) FROM events WHERE NOT year_inferred"
    ).fetchone()
    span = sample_store.execute(
        "SELECT min(reading), max(reading) FROM events WHERE year_inferred"
    ).fetchone()
    assert abs((span[0] - lo).days) < 60 and abs((span[1] - hi).days) < 60
    assert sample_store.execute("SELECT count(*) FROM events WHERE ts IS NULL").fetchone()[0] == 0


def test_sample_payloads_that_are_not_utf8_are_kept(
    sample_store: duckdb.DuckDBPyConnection,
) -> None:
    n, with_bytes = sample_store.execute(
        "SELECT sum(invalid_utf8), (SELECT count(*) FROM events_raw WHERE raw_bytes IS NOT NULL)"
        " FROM sources"
    ).fetchone()
    assert n > 0 and n == with_bytes
