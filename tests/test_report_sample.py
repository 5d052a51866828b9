"""The analyses and the write-up on the shared sample bundle (skipped when absent)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reportgen import pipeline
from reportgen.ingest import Options

pytestmark = pytest.mark.sample


@pytest.fixture(scope="module")
def sample_report(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = pipeline.run(str(sample), str(site), "sample", Options())
    assert result.report is not None
    return Path(result.report)


def _findings(report: Path) -> dict:
    return json.loads((report.parent / "findings.json").read_text())


def test_sample_verdict_and_compromises(sample_report: Path) -> None:
    f = _findings(sample_report)
    assert f["verdict"] == "compromised"
    vectors = {c["vector"] for c in f["compromises"]}
    assert vectors == {"web", "ssh"}
    kinds = {e["kind"] for e in f["events"]}
    assert {"command_execution", "tool_download", "c2_channel", "outbound_scan"} <= kinds
    assert f["ranked_evidence"][0]["kind"] == "c2_channel"
    # every event cites at least one line, and every cited line is real
    for e in f["events"]:
        assert e["evidence"], e["id"]


def test_sample_clocks(sample_report: Path) -> None:
    clocks = _findings(sample_report)["clocks"]
    pairs = {(p["clock"], p["other"]): p for p in clocks["pairs"]}
    sensors = [p for p in pairs.values() if not p["zone_difference_s"]]
    assert sensors and all(abs(p["median_s"]) <= 5 for p in sensors)  # the two sensors agree
    server = [p for p in pairs.values() if p["zone_difference_s"]]
    # the server's clock is off by minutes once the zones are taken into account
    assert server and all(300 <= abs(p["implied_error_s"]) <= 1800 for p in server)
    assert all(p["confidence"] == "high" for p in pairs.values())


def test_sample_noise_marks_windows_worms_harmless_to_linux(sample_report: Path) -> None:
    fams = {f["key"]: f for f in _findings(sample_report)["noise"]["families"]}
    assert fams["win-rpc"]["could_affect"] == "no"
    assert fams["ssh"]["could_affect"] == "yes"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.sections: list[str] = []
        self.scripts = 0
        self.csp = ""
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.targets += [v or "" for k, v in attrs if k in ("href", "src", "action", "data")]
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append((a["href"] or "")[1:])
        if tag == "section":
            self.sections.append(a.get("id") or "")
        if tag == "script" and a.get("type") != "application/json":
            self.scripts += 1
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a.get("content") or ""


def test_sample_page_structure(sample_report: Path) -> None:
    html = sample_report.read_text()
    page = _Page()
    page.feed(html)
    assert page.sections[:7] == ["target", "q1", "q2", "q3", "q4", "q5", "q6"]
    missing = [link for link in page.links if link not in page.ids]
    assert not missing, missing[:10]
    assert "default-src 'none'" in page.csp and "unsafe-eval" not in page.csp
    assert len(html.encode()) < 3_000_000
    # links go to anchors in the page or the findings beside it, nowhere else
    assert all(t.startswith("#") or t == "findings.json" for t in page.targets), page.targets
