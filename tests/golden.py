"""Golden files: what each format fixture parses to.

``python -m tests.golden`` (``make golden``) rewrites tests/fixtures/expected/
from tests/fixtures/logs/; review the diff before committing it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from reportgen import sources
from reportgen.clock import reading_to_datetime
from reportgen.ingest import split_lines
from reportgen.model import Event

HERE = Path(__file__).parent
LOGS = HERE / "fixtures" / "logs"
EXPECTED = HERE / "fixtures" / "expected"


def fixtures() -> list[Path]:
    """Every format fixture: ``<format>.log`` and ``<format>.<variant>.log``."""
    return sorted(LOGS.glob("*.log"))


def fixture_format(path: Path) -> str:
    """The format a fixture belongs to (its name up to the first dot)."""
    return path.name.split(".", 1)[0]


def parse_fixture(path: Path) -> dict[str, Any]:
    """Sniff and parse one fixture the way ingest does, as plain data."""
    numbered, undecodable, cut = split_lines(path.read_bytes(), 1, 1 << 20)
    sample = [t for _, t in numbered if t.strip()][: sources.SAMPLE_LINES]
    choice = sources.choose(sources.scores(sample))
    events, problems = [], [p._asdict() for p in cut]
    for item in sources.parse_lines(numbered, choice):
        if isinstance(item, Event):
            record = item._asdict()
            record["reading"] = reading_to_datetime(item.reading).isoformat()
            record["undecodable"] = item.line in undecodable
            events.append(record)
        else:
            problems.append(item._asdict())
    return {
        "format": choice.format.name if choice.format else None,
        "chain": [f.name for f in choice.chain],
        "lines": len(numbered) + len(cut),
        "events": events,
        "problems": problems,
    }


def expected_path(path: Path) -> Path:
    """Where a fixture's golden file lives."""
    return EXPECTED / (path.name + ".json")


def main() -> int:
    """Rewrite every golden file."""
    EXPECTED.mkdir(parents=True, exist_ok=True)
    for path in fixtures():
        data = parse_fixture(path)
        expected_path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"{path.name}: {len(data['events'])} events, {len(data['problems'])} problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
