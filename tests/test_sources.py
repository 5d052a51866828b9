"""Every format against its fixture and golden file; the sniff matrix; registry completeness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportgen import sources
from reportgen.model import Event
from tests.golden import LOGS, expected_path, fixture_format, fixtures, parse_fixture

FIXTURES = fixtures()
IDS = [p.name for p in FIXTURES]


def test_every_format_has_a_fixture_and_golden_file() -> None:
    covered = {fixture_format(p) for p in FIXTURES}
    assert covered == set(sources.BY_NAME), "a format lacks tests/fixtures/logs/<format>.log"
    for path in FIXTURES:
        assert expected_path(path).exists(), f"run `make golden` for {path.name}"


def test_every_fixture_names_a_format() -> None:
    for path in FIXTURES:
        assert fixture_format(path) in sources.BY_NAME, f"{path.name}: no such format"


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_fixture_matches_golden(path: Path) -> None:
    expected = json.loads(expected_path(path).read_text())
    assert parse_fixture(path) == expected


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_sniff_claims_fixture_for_its_own_format_only(path: Path) -> None:
    sample = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    choice = sources.choose(sources.scores(sample))
    assert choice.format is not None, choice.reason
    assert choice.format.name == fixture_format(path)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_fixture_has_variants_a_malformed_and_a_hostile_line(path: Path) -> None:
    data = parse_fixture(path)
    assert len(data["events"]) >= 4
    assert data["problems"], f"{path.name} needs one malformed line"
    assert any("<script>" in e["raw"] for e in data["events"]), f"{path.name}: no hostile line"
    assert data["lines"] == len(data["events"]) + len(data["problems"])


@pytest.mark.parametrize("fmt", sources.FORMATS, ids=[f.name for f in sources.FORMATS])
def test_format_module_is_complete(fmt: sources.Format) -> None:
    doc = fmt.module.__doc__ or ""
    assert fmt.description and fmt.specificity > 0
    assert "::" in doc, "the docstring shows one real sample line per variant"
    assert fmt.name in {f.name for f in sources.FORMATS}


def test_docstring_samples_parse_with_their_format() -> None:
    for fmt in sources.FORMATS:
        block = (fmt.module.__doc__ or "").split("::", 1)[1].split("\n\n", 2)[1]
        for line in block.splitlines():
            line = line.strip()
            assert isinstance(fmt.parse_line(line, 1), Event), f"{fmt.name}: {line}"


def test_netfilter_lines_win_over_syslog_by_specificity() -> None:
    sample = (LOGS / "netfilter.log").read_text().splitlines()
    scores = sources.scores(sample)
    assert scores["syslog"] >= scores["netfilter"]
    assert sources.choose(scores).format == sources.BY_NAME["netfilter"]


def test_no_confident_format_is_reported_with_scores() -> None:
    choice = sources.choose(sources.scores(["hello world", "just some text", "nothing here"]))
    assert choice.format is None
    assert "no format accepts" in choice.reason


def test_a_tie_between_equally_specific_formats_is_not_guessed() -> None:
    scores = {f.name: 0.0 for f in sources.FORMATS}
    scores["apache_access"] = scores["apache_error"] = 0.8
    choice = sources.choose(scores)
    assert choice.format is None
    assert "tie between apache_access and apache_error" in choice.reason
    assert "80%" in choice.reason


def test_mixed_file_is_split_per_line() -> None:
    lines = [
        "Jun 15 12:11:24 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 "
        "LEN=40 TOS=0x00 PREC=0x00 TTL=241 ID=1 PROTO=TCP SPT=4 DPT=23 WINDOW=1 RES=0x00 SYN URGP=0",
        "Jun 15 12:11:25 gw kernel: usb 1-1: new high-speed USB device number 2",
        "Jun 15 12:11:26 gw snort[9]: [1:1:1] test alert [Priority: 1]: {TCP} 198.51.100.7:1 -> 192.0.2.10:2",
        "Jun 15 12:11:27 gw sshd[1]: Accepted publickey for ops from 198.51.100.5 port 5 ssh2",
    ]
    choice = sources.choose(sources.scores(lines[:2]))
    kinds = [e.kind for e in sources.parse_lines(enumerate(lines, 1), choice)]  # type: ignore[union-attr]
    assert kinds == ["netfilter:packet", "syslog:message", "snort:alert", "syslog:sshd:accepted"]


def test_forced_format_parses_only_with_that_format() -> None:
    choice = sources.forced(sources.BY_NAME["apache_error"])
    lines = [
        (1, "Jun 15 12:11:27 gw sshd[1]: Accepted publickey for ops from 198.51.100.5 port 5 ssh2")
    ]
    (item,) = sources.parse_lines(lines, choice)
    assert not isinstance(item, Event)
    assert "not an error-log line" in item.reason
