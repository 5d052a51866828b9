"""The analyses against the demo incident, whose truth is known (the answer key)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen import demo, pipeline, store
from reportgen.ingest import Options, ingest
from reportgen.render import charts


def _analyze(
    tmp: Path, seed: int, scale: float, offset: float | None = None, drift: float | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    truth = demo.write(demo.plan(seed, scale, offset, drift), tmp)
    con, _ = ingest(str(tmp / "bundle"), str(tmp / "events.duckdb"), Options(jobs=1))
    try:
        found = pipeline.analyze(con)
    finally:
        con.close()
    return truth, found


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


@pytest.fixture(scope="module")
def seed1(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return _analyze(tmp_path_factory.mktemp("demo"), 1, 0.05)


def test_demo_is_deterministic(tmp_path: Path) -> None:
    demo.write(demo.plan(3, 0.02), tmp_path / "a")
    demo.write(demo.plan(3, 0.02), tmp_path / "b")
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert files
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert not (tmp_path / "a" / "bundle" / "truth.json").exists()  # the key stays outside


def test_every_planted_compromise_is_found(seed1: tuple[dict[str, Any], dict[str, Any]]) -> None:
    truth, found = seed1
    comps = found["compromise"].data["compromises"]
    assert len(comps) == len(truth["compromises"])
    for planted in truth["compromises"]:
        match = [
            c
            for c in comps
            if c["vector"] == planted["vector"] and set(planted["actor"]) <= set(c["addresses"])
        ]
        assert match, planted
        start = _utc(match[0]["start"])  # reference clock = the firewall = true UTC
        assert abs(start - _utc(planted["start_utc"])) < timedelta(minutes=5)
    assert found["compromise"].data["actor_count"] == 2
    kinds = {
        found["timeline"].data["events"][int(x[1:]) - 1].kind for c in comps for x in c["chain"]
    }
    assert {"tool_download", "c2_channel", "backdoor", "backdoor_account", "outbound_scan"} <= kinds


def test_the_administrator_is_not_an_intruder(seed1: tuple[dict[str, Any], dict[str, Any]]) -> None:
    truth, found = seed1
    admin = truth["admin_logins"][0]["ip"]
    for c in found["compromise"].data["compromises"]:
        assert admin not in c["addresses"]
    logins = [
        e for e in found["timeline"].data["events"] if e.kind == "admin_login" and admin in e.actors
    ]
    assert len(logins) == len(truth["admin_logins"])


def test_reboot_and_install_are_found(seed1: tuple[dict[str, Any], dict[str, Any]]) -> None:
    truth, found = seed1
    events = found["timeline"].data["events"]
    boots = [e for e in events if e.kind == "boot"]
    assert len(boots) == 1 and boots[0].details["clean"]
    assert abs(_utc(boots[0].reference) - _utc(truth["reboots"][0]["utc"])) < timedelta(minutes=2)
    assert any(e.kind == "software_installed" for e in events)
    apps = [e for e in events if e.kind == "web_application_appeared"]
    assert [e.details["path"] for e in apps] == [truth["installs"][0]["path"]]


def test_noise_spike_and_outage_are_found(seed1: tuple[dict[str, Any], dict[str, Any]]) -> None:
    truth, found = seed1
    spikes = [a for a in found["noise"].data["anomalies"] if a["type"] == "spike"]
    assert [a["day"] for a in spikes if a["family"] == "win-smb"] == [truth["spike"]["day"]]
    gaps = [e for e in found["timeline"].data["events"] if e.kind == "sensor_gap"]
    out = truth["outages"][0]
    assert any(
        _utc(e.reading) <= _utc(out["start_utc"]) + timedelta(hours=1)
        and _utc(e.end_reading) >= _utc(out["end_utc"]) - timedelta(hours=1)
        for e in gaps
    )


def _victim_pair(found: dict[str, Any]) -> dict[str, Any]:
    (pair,) = [
        p
        for p in found["clocks"].data["pairs"]
        if "www" in (p["clock"], p["other"]) and "fw" in (p["clock"], p["other"])
    ]
    return pair


def _planted_error(pair: dict[str, Any]) -> float:
    """The measured implied error, as 'www minus fw'."""
    return pair["implied_error_s"] if pair["clock"] == "www" else -pair["implied_error_s"]


def test_clock_offset_is_recovered(seed1: tuple[dict[str, Any], dict[str, Any]]) -> None:
    truth, found = seed1
    pair = _victim_pair(found)
    mid_error = truth["clock"]["offset_s"] + truth["clock"]["drift_s_per_day"] * 14
    assert abs(_planted_error(pair) - mid_error) < 60
    assert pair["confidence"] == "high"


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(2, 10_000),
    offset=st.sampled_from([-5400.0, -600.0, 90.0, 300.0, 3600.0]),
    drift=st.sampled_from([-6.0, -1.5, 0.0, 2.0, 8.0]),
)
def test_shifted_clocks_are_recovered(
    tmp_path_factory: pytest.TempPathFactory, seed: int, offset: float, drift: float
) -> None:
    _, found = _analyze(tmp_path_factory.mktemp("prop"), seed, 0.03, offset, drift)
    pair = _victim_pair(found)
    # the median sits near the middle of the period; the fit gives the drift
    assert abs(_planted_error(pair) - (offset + drift * 14)) < 60
    measured_drift = pair["drift_s_per_day"] if pair["clock"] == "www" else -pair["drift_s_per_day"]
    assert abs(measured_drift - drift) < 1.0
    assert {c["vector"] for c in found["compromise"].data["compromises"]} == {"web", "ssh"}


def test_demo_report_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "VALIDATE", True)  # every chart spec against the schema
    demo.write(demo.plan(1, 0.02), tmp_path / "d")
    result = pipeline.run(
        str(tmp_path / "d" / "bundle"), str(tmp_path / "site"), "demo", Options(jobs=1)
    )
    assert result.report and Path(result.report).stat().st_size > 100_000
    doc = json.loads((Path(result.report).parent / "findings.json").read_text())
    assert doc["schema_version"] == 1 and doc["verdict"] == "compromised"
    con = store.open_store(result.db_path)
    assert store.scalar(con, "SELECT sum(problems) FROM sources") == 0
    con.close()


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    demo.write(demo.plan(5, 0.02), tmp_path / "d")
    pages = []
    for run in ("one", "two"):
        result = pipeline.run(
            str(tmp_path / "d" / "bundle"), str(tmp_path / run), "demo", Options(jobs=1)
        )
        folder = Path(result.report or "").parent
        pages.append(
            (
                (folder / "index.html").read_bytes(),
                (folder / "findings.json").read_bytes(),
                (tmp_path / run / "index.html").read_bytes(),
            )
        )
    assert pages[0] == pages[1]
    stamped = pipeline.run(
        str(tmp_path / "d" / "bundle"),
        str(tmp_path / "three"),
        "demo",
        Options(jobs=1),
        generated_at="2011-06-01 00:00 UTC",
    )
    assert b"2011-06-01 00:00 UTC" in Path(stamped.report or "").read_bytes()
