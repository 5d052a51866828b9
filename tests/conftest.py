"""Shared test fixtures: the sample bundle (skipped cleanly when absent) and helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from reportgen.ingest import Options, ingest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = Path(os.environ.get("REPORTGEN_SAMPLE", ROOT.parent / "shared" / "data" / "sotm34"))


def sample_archive() -> Path | None:
    """The shared sample bundle, if this checkout sits beside ../shared."""
    if not SAMPLE_DIR.is_dir():
        return None
    archives = sorted(SAMPLE_DIR.glob("*.tar.gz"))
    return archives[0] if archives else None


@pytest.fixture(scope="session")
def sample() -> Path:
    """Path of the sample bundle archive; skips the test when it is absent."""
    path = sample_archive()
    if path is None:
        pytest.skip(f"sample bundle not found under {SAMPLE_DIR} (../shared absent)")
    return path


@pytest.fixture(scope="session")
def sample_store(
    sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The sample bundle ingested once per session (read-only connection)."""
    out = tmp_path_factory.mktemp("sample")
    con, _ = ingest(str(sample), str(out / "events.duckdb"), Options())
    con.close()
    ro = duckdb.connect(str(out / "events.duckdb"), read_only=True)
    yield ro
    ro.close()


def ingest_dir(path: Path, tmp_path: Path, **options: object) -> duckdb.DuckDBPyConnection:
    """Ingest ``path`` into a store under ``tmp_path`` with ``jobs=1``."""
    opts = Options(jobs=1, **options)  # type: ignore[arg-type]
    con, _ = ingest(str(path), str(tmp_path / "events.duckdb"), opts)
    return con
