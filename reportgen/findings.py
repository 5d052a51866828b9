"""findings.json: every analysis's conclusions in one versioned, documented document.

The schema is described in the README ("findings.json"). Everything that comes
from a log stays a JSON string: nothing here is markup.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any

from reportgen import __version__
from reportgen.model import Finding

SCHEMA = "reportgen.findings"
SCHEMA_VERSION = 1
QUESTIONS = ("timeline", "compromise", "detection", "noise", "clocks", "method")
"""The analyses that answer Q1..Q6, in question order."""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def assemble(
    name: str, findings: dict[str, Finding], period: dict[str, Any], generated_at: str | None
) -> dict[str, Any]:
    """The findings document."""
    f = findings
    document: dict[str, Any] = _plain(
        {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "generator": f"reportgen {__version__}",
            "generated_at": generated_at,
            "report": name,
            "period": period,
            "verdict": f["compromise"].data["verdict"],
            "answers": [
                {
                    "question": f"Q{i}",
                    "analysis": key,
                    "title": f[key].title,
                    "narrative_md": f[key].narrative,
                }
                for i, key in enumerate(QUESTIONS, 1)
            ],
            "clocks": f["clocks"].data,
            "target": f["profile"].data,
            "events": f["timeline"].data["events"],
            "compromises": f["compromise"].data["compromises"],
            "actors": f["compromise"].data["actors"],
            "ranked_evidence": f["compromise"].data["ranked_evidence"],
            "unattributed": f["compromise"].data["unattributed"],
            "detection": f["detection"].data["compromises"],
            "noise": f["noise"].data,
            "method": f["method"].data,
        }
    )
    return document


def dumps(document: dict[str, Any]) -> str:
    """Deterministic JSON text."""
    return json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
