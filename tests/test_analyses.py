"""Analyses on small inputs written in the test."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from reportgen.analyses import clocks, compromise, noise
from reportgen.analyses.families import BY_KEY, FAMILIES
from reportgen.model import Evidence, Finding, SignificantEvent


def _pair_stats(points: list[tuple[datetime, float]]) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("""CREATE TEMP TABLE clock_pairs (matcher VARCHAR, a VARCHAR, b VARCHAR,
        t TIMESTAMP, d DOUBLE, left_clock VARCHAR, r_dst VARCHAR, lf VARCHAR, ll BIGINT,
        rf VARCHAR, rl BIGINT, addresses BOOLEAN)""")
    con.executemany(
        "INSERT INTO clock_pairs VALUES ('m', 'a', 'b', ?, ?, 'a', NULL, 'f', ?, 'g', ?, FALSE)",
        [(t, d, i, i) for i, (t, d) in enumerate(points)],
    )
    (stats,) = clocks.pair_statistics(con)
    return stats


def test_clock_stats_recover_offset_and_drift() -> None:
    t0 = datetime(2011, 6, 1)
    points = [
        (t0 + timedelta(hours=h), 300.0 + 2.0 * h / 24 + (1 if h % 2 else -1))
        for h in range(0, 24 * 20)
    ]
    stats = _pair_stats(points)
    assert abs(float(stats["median_s"]) - 320) < 2  # type: ignore[arg-type]
    assert abs(float(stats["drift_s_per_day"]) - 2.0) < 0.05 and stats["drift_significant"]  # type: ignore[arg-type]
    flat = _pair_stats([(t, d - 2.0 * (t - t0).total_seconds() / 86400) for t, d in points])
    assert not flat["drift_significant"]


def test_clock_offsets_compose_along_links() -> None:
    pairs = [
        {
            "clock": "a",
            "other": "b",
            "n": 50,
            "median_s": 10.0,
            "drift_s_per_day": 0.0,
            "drift_significant": False,
            "intercept_s": 10.0,
            "t0": "2011-06-01T00:00:00",
            "confidence": "high",
            "mad_s": 1.0,
        },
        {
            "clock": "b",
            "other": "c",
            "n": 40,
            "median_s": -30.0,
            "drift_s_per_day": 0.0,
            "drift_significant": False,
            "intercept_s": -30.0,
            "t0": "2011-06-01T00:00:00",
            "confidence": "high",
            "mad_s": 1.0,
        },
    ]
    info = {c: {"events": 1} for c in "abcd"}
    ref = clocks._reference(info, pairs)
    assert ref == "b"
    offsets = clocks._offsets_to(ref, info, pairs)
    assert offsets["a"]["offset_s"] == 10.0 and offsets["c"]["offset_s"] == 30.0
    assert offsets["d"]["offset_s"] is None
    when = datetime(2011, 6, 2)
    assert clocks.to_reference(offsets, "a", when) == when - timedelta(seconds=10)
    assert clocks.to_reference(offsets, "d", when) is None


def test_family_table_is_complete_and_readable() -> None:
    keys = [f.key for f in FAMILIES]
    assert len(keys) == len(set(keys)) and keys[-1] == "other"
    for f in FAMILIES:
        assert f.platform in ("windows", "unix", "any")
        for spec in f.ports:
            proto, _, ports = spec.partition("/")
            assert proto in ("tcp", "udp") and all(p.isdigit() for p in ports.split("-"))
    assert "CASE" in noise.firewall_case() and "regexp_matches" in noise.ids_case()


def _profile(platform: str, ports: list[str], web: str | None) -> Finding:
    return Finding(
        "profile",
        "",
        "",
        {
            "servers": [
                {
                    "host": "h",
                    "addresses": ["192.0.2.1"],
                    "os": "Linux",
                    "kernel": None,
                    "distribution": None,
                    "web_server": web,
                    "platform": platform,
                    "services": [{"service": "x", "ports": ports, "lines": 1, "seen_in": "syslog"}],
                }
            ],
            "sensors": [],
            "networks": ["192.0.2.0/24"],
        },
    )


def test_could_affect_follows_platform_and_services() -> None:
    linux = _profile("linux", ["22/tcp", "25/tcp"], None)
    assert noise._affects(BY_KEY["win-smb"], linux)[0] == "no"
    assert noise._affects(BY_KEY["ssh"], linux)[0] == "yes"
    assert noise._affects(BY_KEY["rpc-unix"], linux)[0] == "no"
    assert noise._affects(BY_KEY["web-unix"], linux)[0] == "no"
    assert (
        noise._affects(BY_KEY["web-unix"], _profile("linux", ["80/tcp"], "Apache/2.2"))[0] == "yes"
    )
    assert noise._affects(BY_KEY["backscatter"], linux)[0] == "no"
    assert noise._affects(BY_KEY["scan"], linux)[0] == "indirectly"


def test_noise_spike_and_start_detection() -> None:
    days = [f"2011-06-{d:02d}" for d in range(1, 21)]
    series = [(d, 100) for d in days]
    series[12] = (days[12], 900)
    kinds = [a["type"] for a in noise._anomalies(series, days)]
    assert kinds == ["spike"]
    late = [(d, 50) for d in days[10:]]
    assert [a["type"] for a in noise._anomalies(late, days)] == ["start"]


def _event(
    i: int, kind: str, when: str, actors: tuple[str, ...], **details: object
) -> SignificantEvent:
    ev = Evidence("f", i, "apache_access", "www", when, "raw")
    return SignificantEvent(
        f"E{i}",
        kind,
        "malicious",
        "www",
        "www",
        when,
        when,
        None,
        actors,
        (),
        f"{kind} {i}",
        "high",
        1,
        (ev,),
        dict(details),
    )


def test_actors_are_linked_by_a_shared_download_host() -> None:
    events = [
        _event(
            1,
            "web_exploit",
            "2011-06-01T10:00:00",
            ("198.51.100.1",),
            vector="web",
            payload="p1",
            agents=["a"],
        ),
        _event(
            2,
            "tool_download",
            "2011-06-01T10:01:00",
            ("198.51.100.1",),
            download_host="dl.example",
            result="saved (1 bytes)",
        ),
        _event(
            3,
            "web_exploit",
            "2011-06-05T10:00:00",
            ("203.0.113.7",),
            vector="web",
            payload="p2",
            agents=["b"],
        ),
        _event(
            4,
            "tool_download",
            "2011-06-05T10:01:00",
            ("203.0.113.7",),
            download_host="dl.example",
            result="saved (1 bytes)",
        ),
        _event(5, "c2_channel", "2011-06-05T10:02:00", ("198.51.100.200",)),
        _event(
            6,
            "web_exploit",
            "2011-06-09T10:00:00",
            ("192.0.2.99",),
            vector="web",
            payload="p3",
            agents=["c"],
        ),
    ]
    found = compromise.analyze(Finding("timeline", "", "", {"events": events}))
    assert found.data["count"] == 3 and found.data["actor_count"] == 2
    (shared,) = [a for a in found.data["actors"] if len(a["addresses"]) == 2]
    assert "dl.example" in shared["linked_because"][0]
    c2 = [c for c in found.data["compromises"] if "E5" in c["chain"]]
    assert len(c2) == 1 and c2[0]["start"] == "2011-06-05T10:00:00"
    assert found.data["most_compelling"]["event"] == "E5"
