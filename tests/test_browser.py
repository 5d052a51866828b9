"""The write-up in real headless Chromium: charts draw, nothing errs, nothing is fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen import demo, pipeline
from reportgen.ingest import Options
from tests.browser import offsite, visit

pytestmark = pytest.mark.browser


def _check(page: Path, shot: Path) -> None:
    seen = visit(page, shot)
    assert not seen.page_errors, seen.page_errors
    assert not seen.console_errors, seen.console_errors
    assert not offsite(seen.requests), offsite(seen.requests)
    assert seen.charts and all(c["state"] == "rendered" and c["marks"] > 0 for c in seen.charts), (
        seen.charts
    )
    assert not seen.broken_links, seen.broken_links[:10]
    assert not seen.dialogs and not seen.hooks
    assert shot.stat().st_size > 10_000


def test_demo_report_in_chromium(tmp_path: Path) -> None:
    demo.write(demo.plan(1, 0.02), tmp_path / "d")
    result = pipeline.run(
        str(tmp_path / "d" / "bundle"), str(tmp_path / "site"), "demo", Options(jobs=1)
    )
    assert result.report
    _check(Path(result.report), tmp_path / "demo.png")
    index = visit(tmp_path / "site" / "index.html")
    assert not index.page_errors and not index.console_errors and not offsite(index.requests)
    assert "demo" in index.text and "compromised" in index.text


@pytest.mark.sample
def test_sample_report_in_chromium(sample: Path, tmp_path: Path) -> None:
    result = pipeline.run(str(sample), str(tmp_path / "site"), "sample", Options())
    assert result.report
    _check(Path(result.report), tmp_path / "sample.png")
