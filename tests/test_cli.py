"""The command line: exit codes, one-line errors, the summary, --list-formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen import sources
from reportgen.cli import EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, main
from tests.golden import LOGS

SYSLOG = b"Jun 15 10:11:12 web1 sshd[411]: Accepted password for alice from 198.51.100.7 port 51122 ssh2\n"


def test_list_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-formats"]) == EXIT_OK
    out = capsys.readouterr().out
    for fmt in sources.FORMATS:
        assert fmt.name in out


def test_missing_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tz", "web1"], "--tz expects KEY=VALUE"),
        (["--tz", "web1=Mars/Olympus"], "unknown time zone"),
        (["--format", "nginx=messages"], "unknown format 'nginx'"),
        (["--year", "99"], "expected a year"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "messages").write_bytes(SYSLOG)
    code = main(["ingest", str(tmp_path / "messages"), "--out", str(tmp_path / "o"), *args])
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_clean_input_exits_0_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "messages").write_bytes(SYSLOG)
    assert (
        main(["ingest", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--year", "2011"])
        == EXIT_OK
    )
    out = capsys.readouterr().out
    assert "messages" in out and "syslog" in out and "web1" in out
    assert (tmp_path / "o" / "events.duckdb").exists()


def test_problems_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(LOGS), "--out", str(tmp_path / "o")]) == EXIT_ATTENTION
    assert "apache_access" in capsys.readouterr().out


def test_forced_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "odd").write_bytes(SYSLOG)
    code = main(
        [
            "ingest",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o"),
            "--format",
            "apache_error=odd",
        ]
    )
    assert code == EXIT_ATTENTION
    assert "apache_error" in capsys.readouterr().out
