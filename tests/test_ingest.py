"""Ingest: inputs, archives, line accounting, years, zones, hosts and the pitfalls."""

from __future__ import annotations

import bz2
import gzip
import io
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from reportgen.clock import parse_zone
from reportgen.ingest import Options, ingest
from reportgen.inputs import Limits, rotation
from tests.conftest import ingest_dir
from tests.golden import LOGS

SYSLOG = b"Jun 15 10:11:12 web1 sshd[411]: Accepted password for alice from 198.51.100.7 port 51122 ssh2\n"
ACCESS = b'198.51.100.7 - - [15/Jun/2011:10:11:10 +0200] "GET / HTTP/1.1" 200 12 "-" "curl"\n'


def _accounting(con) -> list[tuple]:
    return con.execute("""SELECT file, lines, events, problems,
        (SELECT count(*) FROM events_raw e WHERE e.file_id = s.file_id),
        (SELECT count(*) FROM parse_problems p WHERE p.file_id = s.file_id)
        FROM sources s ORDER BY file""").fetchall()


def test_every_line_is_an_event_or_a_problem(tmp_path: Path) -> None:
    con = ingest_dir(LOGS, tmp_path)
    rows = _accounting(con)
    assert len(rows) == len(list(LOGS.glob("*.log")))
    for file, lines, events, problems, stored_events, stored_problems in rows:
        assert lines == events + problems, file
        assert (events, problems) == (stored_events, stored_problems), file
        assert lines == (LOGS / Path(file).name).read_bytes().count(b"\n"), file


def test_reads_plain_gzip_bzip2_tar_and_zip_in_place(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG)
    (bundle / "messages.1.gz").write_bytes(gzip.compress(SYSLOG * 2))
    (bundle / "messages.2.bz2").write_bytes(bz2.compress(SYSLOG * 3))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (
            ("logs/access_log", ACCESS),
            ("logs/secure.3.gz", gzip.compress(SYSLOG)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (bundle / "bundle.tgz").write_bytes(buf.getvalue())
    with zipfile.ZipFile(bundle / "more.zip", "w") as zf:
        zf.writestr("fw/kern.log", (LOGS / "netfilter.log").read_bytes())
    con = ingest_dir(bundle, tmp_path)
    got = dict(con.execute("SELECT file, events FROM sources").fetchall())
    assert got == {
        "messages": 1,
        "messages.1.gz": 2,
        "messages.2.bz2": 3,
        "bundle.tgz!logs/access_log": 1,
        "bundle.tgz!logs/secure.3.gz": 1,
        "more.zip!fw/kern.log": 11,
    }
    assert not list(tmp_path.glob("**/logs"))  # nothing unpacked to disk
    comp = dict(con.execute("SELECT file, compression FROM sources").fetchall())
    assert comp["messages.2.bz2"] == "bzip2" and comp["bundle.tgz!logs/secure.3.gz"] == "gzip"


def test_rotation_names() -> None:
    assert rotation("messages") == ("messages", 0)
    assert rotation("messages.2.gz") == ("messages", 2)
    assert rotation("access_log.6") == ("access_log", 6)
    older, newer = rotation("syslog-20110601")[1], rotation("syslog-20110615")[1]
    assert older > newer > 0


def test_formats_are_recognized_by_content_not_name(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "access_log").write_bytes(SYSLOG)  # misleading names
    (bundle / "messages").write_bytes(ACCESS)
    con = ingest_dir(bundle, tmp_path)
    assert dict(con.execute("SELECT file, format FROM sources").fetchall()) == {
        "access_log": "syslog",
        "messages": "apache_access",
    }


def test_unrecognized_file_is_listed_with_reason_and_counted(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "notes.txt").write_bytes(b"shopping list\neggs\n\nmilk\n")
    (bundle / "messages").write_bytes(SYSLOG)
    con = ingest_dir(bundle, tmp_path)
    status, reason, lines, problems = con.execute(
        "SELECT status, reason, lines, problems FROM sources WHERE file = 'notes.txt'"
    ).fetchone()
    assert status == "unrecognized" and "no format accepts" in reason
    assert lines == problems == 4
    assert (
        con.execute("SELECT count(*) FROM parse_problems WHERE file = 'notes.txt'").fetchone()[0]
        == 4
    )


def test_year_comes_from_dated_lines_in_the_bundle_not_mtime(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG)
    (bundle / "access_log").write_bytes(ACCESS)
    now = time.time()
    os.utime(bundle / "messages", (now, now))  # a copy made today is dated today
    con = ingest_dir(bundle, tmp_path)
    year, basis = con.execute(
        "SELECT year, year_basis FROM sources WHERE file = 'messages'"
    ).fetchone()
    assert (year, basis) == (2011, "bundle")
    assert (
        con.execute("SELECT year(reading) FROM events WHERE source = 'syslog'").fetchone()[0]
        == 2011
    )


def test_year_falls_back_to_mtime_with_a_warning_and_can_be_given(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG)
    stamp = time.mktime((2009, 7, 1, 0, 0, 0, 0, 0, -1))
    os.utime(bundle / "messages", (stamp, stamp))
    con = ingest_dir(bundle, tmp_path)
    assert con.execute("SELECT year, year_basis FROM sources").fetchone() == (2009, "mtime")
    warnings = con.execute("SELECT value FROM run WHERE key = 'warnings'").fetchone()[0]
    assert "modification time" in warnings
    con.close()
    con = ingest_dir(bundle, tmp_path, year=2007)
    assert con.execute("SELECT year, year_basis FROM sources").fetchone() == (2007, "--year")
    assert (
        con.execute("SELECT strftime(reading, '%Y-%m-%d') FROM events").fetchone()[0]
        == "2007-06-15"
    )


def test_december_to_january_rollover_inside_a_file(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(
        b"Dec 31 23:59:58 h sshd[1]: Connection closed by 198.51.100.1\n"
        b"Jan  1 00:00:02 h sshd[2]: Connection closed by 198.51.100.2\n"
    )
    con = ingest_dir(bundle, tmp_path, year=2010)
    assert [
        r[0]
        for r in con.execute(
            "SELECT strftime(reading, '%Y-%m-%d') FROM events ORDER BY line"
        ).fetchall()
    ] == ["2010-12-31", "2011-01-01"]


def test_rollover_across_rotated_files(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages.1").write_bytes(
        b"Dec 30 10:00:00 h sshd[1]: Connection closed by 198.51.100.1\n"
    )
    (bundle / "messages").write_bytes(
        b"Jan  2 10:00:00 h sshd[2]: Connection closed by 198.51.100.2\n"
    )
    (bundle / "access_log").write_bytes(ACCESS.replace(b"15/Jun/2011", b"01/Jan/2012"))
    con = ingest_dir(bundle, tmp_path)
    assert dict(
        con.execute("SELECT file, year FROM sources WHERE format = 'syslog'").fetchall()
    ) == {"messages.1": 2011, "messages": 2012}


def test_zone_of_a_host_comes_from_its_apache_offsets(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG)
    (bundle / "access_log").write_bytes(ACCESS)
    (bundle / "fw.log").write_bytes((LOGS / "netfilter.log").read_bytes())
    con = ingest_dir(bundle, tmp_path)
    zones = dict(con.execute("SELECT file, zone FROM sources").fetchall())
    assert zones["messages"] == "+02:00" and zones["access_log"] == "+02:00"
    assert zones["fw.log"] == "UTC"
    host, basis = con.execute(
        "SELECT host, host_basis FROM sources WHERE file = 'access_log'"
    ).fetchone()
    assert host == "web1" and "only host" in basis
    ts = con.execute(
        "SELECT strftime(ts, '%H:%M:%S') FROM events WHERE host = 'web1' AND source = 'syslog'"
    ).fetchone()[0]
    assert ts == "08:11:12"  # 10:11:12 read on a +02:00 clock
    assert (
        "assumed UTC" in con.execute("SELECT value FROM run WHERE key = 'warnings'").fetchone()[0]
    )


def test_tz_option_overrides_and_named_zones_follow_dst(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(
        b"Jan 15 10:00:00 web1 sshd[1]: Connection closed by 198.51.100.1\n"
        b"Jul 15 10:00:00 web1 sshd[2]: Connection closed by 198.51.100.2\n"
    )
    con = ingest_dir(bundle, tmp_path, year=2011, zones={"web1": parse_zone("Europe/Berlin")})
    assert [
        r[0] for r in con.execute("SELECT utc_offset FROM events ORDER BY line").fetchall()
    ] == [3600, 7200]
    assert con.execute("SELECT zone_basis FROM sources").fetchone()[0] == "given with --tz"


def test_attack_payloads_that_are_not_utf8_are_kept(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    payload = b"Jun 15 10:13:05 web1 rpc.statd[800]: gethostbyname error for \x18\xf7\xff\xbf\x90\x90%8x%hn\n"
    (bundle / "messages").write_bytes(payload + SYSLOG)
    con = ingest_dir(bundle, tmp_path)
    raw, raw_bytes, program = con.execute(
        "SELECT raw, raw_bytes, program FROM events WHERE line = 1"
    ).fetchone()
    assert raw_bytes == payload.rstrip(b"\n")
    assert "\\xf7\\xff\\xbf\\x90" in raw and program == "rpc.statd"
    assert con.execute("SELECT invalid_utf8, events FROM sources").fetchone() == (1, 2)


def test_malformed_http_requests_keep_client_time_and_status(tmp_path: Path) -> None:
    con = ingest_dir(LOGS / "apache_access.log", tmp_path)
    rows = con.execute("""SELECT src_ip, strftime(reading, '%H:%M:%S'), outcome, message
        FROM events WHERE action IS NULL ORDER BY line""").fetchall()
    assert rows[0] == ("198.51.100.38", "13:55:39", "400", "")
    assert [r[0] for r in rows] == ["198.51.100.38", "198.51.100.39", "198.51.100.40"]
    noproto = con.execute("SELECT action, outcome FROM events WHERE line = 3").fetchone()
    assert noproto == ("GET", "404")


def test_preprocessor_alerts_and_odd_spacing(tmp_path: Path) -> None:
    con = ingest_dir(LOGS, tmp_path)
    spade = con.execute("""SELECT extra->>'classification', extra->>'priority', dst_port FROM events
        WHERE message LIKE 'Spade:%'""").fetchone()
    assert spade == (None, None, 8080)
    login = con.execute(
        "SELECT kind, program, pid FROM events WHERE raw LIKE '%ROOT LOGIN%'"
    ).fetchone()
    assert login == ("syslog:login:root_login", "login", 700)


def test_identical_lines_are_all_kept(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG * 5)
    con = ingest_dir(bundle, tmp_path)
    assert con.execute("SELECT count(*), count(DISTINCT raw) FROM events").fetchone() == (5, 1)


def test_corrupt_member_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG)
    whole = gzip.compress(SYSLOG * 20000)
    (bundle / "secure.1.gz").write_bytes(whole[: len(whole) // 2])  # truncated gzip
    (bundle / "broken.zip").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    con = ingest_dir(bundle, tmp_path)
    assert con.execute("SELECT events FROM sources WHERE file = 'messages'").fetchone()[0] == 1
    status, lines, events = con.execute(
        "SELECT status, lines, events FROM sources WHERE file = 'secure.1.gz'"
    ).fetchone()
    assert status == "truncated" and 0 < lines < 20000 and lines == events
    problems = dict(con.execute("SELECT file, reason FROM input_problems").fetchall())
    assert "broken.zip" in problems and "secure.1.gz" in problems


def test_long_line_is_cut_and_reported(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG + b"x" * (3 << 20) + b"\n" + SYSLOG)
    con = ingest_dir(bundle, tmp_path, limits=Limits(max_line_bytes=1 << 20))
    assert con.execute("SELECT lines, events, problems FROM sources").fetchone() == (3, 2, 1)
    line, reason, n = con.execute("SELECT line, reason, length(raw) FROM parse_problems").fetchone()
    assert line == 2 and "limit" in reason and n <= 2000


def test_crlf_line_ends(tmp_path: Path) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "messages").write_bytes(SYSLOG.replace(b"\n", b"\r\n") * 2)
    con = ingest_dir(bundle, tmp_path)
    assert con.execute("SELECT count(*) FROM events WHERE raw LIKE '%\r'").fetchone()[0] == 0
    assert con.execute("SELECT events FROM sources").fetchone()[0] == 2


@pytest.mark.parametrize("jobs", [1, 2])
def test_parallel_and_inline_give_the_same_store(tmp_path: Path, jobs: int) -> None:
    bundle = tmp_path / "in"
    bundle.mkdir()
    (bundle / "fw.log").write_bytes((LOGS / "netfilter.log").read_bytes() * 3000)
    con, _ = ingest(str(bundle), str(tmp_path / "e.duckdb"), Options(jobs=jobs))
    assert con.execute("SELECT lines, events, problems FROM sources").fetchone() == (
        36000,
        33000,
        3000,
    )
    assert con.execute("SELECT max(line), count(DISTINCT line) FROM events").fetchone() == (
        36000,
        33000,
    )
    # the malformed fixture line (line 11 of 12) is a problem in every copy
    assert (
        con.execute("SELECT count(*) FROM parse_problems WHERE line % 12 = 11").fetchone()[0]
        == 3000
    )
