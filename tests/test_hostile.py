"""Hostile input: an XSS-proof report, robust ingestion, nothing lost."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from reportgen import pipeline
from reportgen.cli import EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, main
from reportgen.ingest import Options
from reportgen.inputs import Limits
from reportgen.render.html import render_markdown, script_json
from tests.browser import offsite, visit
from tests.conftest import ingest_dir
from tests.hostile import build, payloads, visible

SYSLOG = b"Jun 15 10:11:12 web1 sshd[411]: Accepted password for alice from 198.51.100.7 port 51122 ssh2\n"


def test_corpus_has_at_least_80_payloads() -> None:
    assert len(payloads()) >= 80


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("hostile")
    used = build(root / "in")
    result = pipeline.run(str(root / "in"), str(root / "site"), "hostile", Options(jobs=1))
    assert result.report
    return Path(result.report), used


def test_every_line_of_the_corpus_is_accounted_for(hostile_report: tuple[Path, list[str]]) -> None:
    report, _ = hostile_report
    doc = json.loads((report.parent / "findings.json").read_text())
    for s in doc["method"]["sources"]:
        assert s["lines"] == s["events"] + s["problems"], s["log"]


def test_no_payload_becomes_markup(hostile_report: tuple[Path, list[str]]) -> None:
    report, used = hostile_report
    html = report.read_text()
    body = html.split("<script>")[0]  # before the inlined libraries
    for p in used:
        if "<" in p:
            assert p not in body, p[:80]
    # the only script elements are ours: the two inlined libraries and the JSON specs
    assert html.count("<script>") == 2
    assert "xss(" not in "".join(html.split("<script>")[1:])


@pytest.mark.browser
def test_hostile_report_in_chromium(hostile_report: tuple[Path, list[str]], tmp_path: Path) -> None:
    report, used = hostile_report
    seen = visit(report, tmp_path / "hostile.png")
    assert not seen.hooks, seen.hooks
    assert not seen.dialogs, seen.dialogs
    assert not offsite(seen.requests), offsite(seen.requests)
    assert not seen.page_errors, seen.page_errors
    assert seen.title == "hostile — incident write-up"
    assert all(c["state"] == "rendered" for c in seen.charts), seen.charts
    text = " ".join(seen.text.split())
    missing = [p[:60] for p in used if visible(p) and " ".join(p.split())[:100] not in text]
    assert not missing, missing


@pytest.mark.parametrize(
    "text",
    [
        "<script>xss(1)</script>",
        "[x](javascript:xss(2))",
        "![i](http://evil.example/i.png)",
        "<http://evil.example/>",
        "&lt;b&gt;",
        "<!-- c -->",
        '<a href="http://evil.example">x</a>',
    ],
)
def test_markdown_keeps_log_text_as_text(text: str) -> None:
    html = str(render_markdown(f"user `{text}` and {text}"))
    assert "<script" not in html and "<a " not in html and "<img" not in html
    assert "javascript:" not in html.replace("javascript:xss", "") or "href" not in html


def test_markdown_links_only_our_ids() -> None:
    html = str(render_markdown("see [E12] and [C3]"))
    assert '<a href="#e-E12">[E12]</a>' in html and '<a href="#c-C3">[C3]</a>' in html


def test_script_json_cannot_break_out() -> None:
    text = str(script_json({"v": "</script><!--\u2028\u2029<b>&"}))
    for bad in ("</script", "<!--", "\u2028", "\u2029", "<b>", "&"):
        assert bad not in text
    assert json.loads(text) == {"v": "</script><!--\u2028\u2029<b>&"}


# --- malformed input -----------------------------------------------------------------


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_malformed_inputs_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "messages").write_bytes(SYSLOG)
    (d / "binary.bin").write_bytes(bytes(range(256)) * 40)
    (d / "nul.log").write_bytes(SYSLOG.replace(b"alice", b"al\x00ice") + SYSLOG)
    (d / "latin1.log").write_bytes(SYSLOG.replace(b"alice", b"al\xe9\xff"))
    (d / "crlf.log").write_bytes(SYSLOG.replace(b"\n", b"\r\n") * 3)
    (d / "empty.log").write_bytes(b"")
    (d / "dangling").symlink_to(d / "nowhere")
    (d / "loop").mkdir()
    (d / "loop" / "again").symlink_to(d / "loop")
    big = gzip.compress(SYSLOG * 5000)
    (d / "cut.gz").write_bytes(big[: len(big) // 3])
    bz = bz2.compress(SYSLOG * 5000)
    (d / "cut.bz2").write_bytes(bz[: len(bz) // 2])
    whole = _tar({"ok.log": SYSLOG * 3000, "more.log": SYSLOG * 3000})
    (d / "bad.tar.gz").write_bytes(whole[: len(whole) // 2] + b"garbage")
    (d / "escape.tgz").write_bytes(_tar({"../../etc/evil": SYSLOG, "/abs/path": SYSLOG}))
    (d / "huge.log").write_bytes(b"x" * (20 << 20) + b"\n" + SYSLOG)
    con = ingest_dir(d, tmp_path, limits=Limits(max_line_bytes=1 << 20))
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT file, status, lines, events, problems, invalid_utf8 FROM sources"
        ).fetchall()
    }
    assert rows["messages"] == ("ok", 1, 1, 0, 0)
    assert rows["binary.bin"][0] == "unrecognized"
    assert rows["nul.log"][2:] == (2, 0, 1) and rows["latin1.log"][4] == 1
    assert rows["crlf.log"][1:3] == (3, 3)
    assert rows["empty.log"][0] == "empty"
    assert rows["cut.gz"][0] == "truncated"
    assert rows["huge.log"][1:4] == (2, 1, 1)
    assert rows["escape.tgz!../../etc/evil"][2] == 1 and rows["escape.tgz!/abs/path"][2] == 1
    problems = dict(con.execute("SELECT file, reason FROM input_problems").fetchall())
    assert any("dangling" in f for f in problems) and any("loop" in f for f in problems)
    assert "bad.tar.gz" in problems and "cut.bz2" in problems and "cut.gz" in problems
    assert "climbs" in problems["escape.tgz!../../etc/evil"]
    for _, (_status, lines, events, probs, _inv) in rows.items():
        assert lines == events + probs
    assert not (tmp_path / "etc").exists() and not Path("/abs/path").exists()


def test_limits_protect_the_machine(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    for i in range(5):
        (d / f"m{i}").write_bytes(SYSLOG * 100)
    con = ingest_dir(d, tmp_path, limits=Limits(max_files=3, max_file_bytes=50 * len(SYSLOG)))
    problems = [r[0] for r in con.execute("SELECT reason FROM input_problems").fetchall()]
    assert sum("--max-files" in p for p in problems) == 2
    assert sum("--max-file-bytes" in p for p in problems) == 3


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "messages").write_bytes(SYSLOG)
    assert main(["ingest", str(d), "--out", str(tmp_path / "o"), "--year", "2011"]) == EXIT_OK
    (d / "junk").write_bytes(b"\x00\x01\x02 nothing\n")
    assert main(["ingest", str(d), "--out", str(tmp_path / "o")]) == EXIT_ATTENTION
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ingest", str(empty), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert "no files found" in capsys.readouterr().err


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "messages").write_bytes(SYSLOG)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["ingest", str(d), "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code != EXIT_OK and err.count("\n") == 1 and "Traceback" not in err
    assert os.path.exists(blocker)
