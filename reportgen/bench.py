"""Benchmarks (``make bench``): wall and CPU time, throughput and peak memory.

Each measured run is a fresh ``python -m reportgen`` process, so imports,
worker start-up and the final write of the store are all counted; peak memory
is the largest sum of resident memory over the process and its workers, sampled
from /proc every 20 ms. Numbers are printed as a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measure:
    """One timed run."""

    label: str
    wall: float
    cpu: float
    peak_mb: float
    mbytes: float
    lines: int

    def row(self) -> str:
        """A Markdown table row."""
        return (
            f"| {self.label} | {self.wall:.2f} | {self.cpu:.2f} | {self.mbytes / self.wall:.1f} "
            f"| {self.lines / self.wall:,.0f} | {self.peak_mb:.0f} |"
        )


HEADER = "| run | wall s | CPU s | MB/s | lines/s | peak MB |\n|---|---:|---:|---:|---:|---:|"


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def run(label: str, argv: list[str], mbytes: float, lines: int) -> Measure:
    """Run ``python -m reportgen argv`` and measure it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reportgen", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{label}: exit {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measure(label, wall, cpu, peak / 2**20, mbytes, lines)


def _archive_size(path: Path) -> tuple[float, int]:
    """Uncompressed MB and lines of an archive's members."""
    size = lines = 0
    with tarfile.open(path) as tar:
        for info in tar:
            if info.isfile():
                data = tar.extractfile(info).read()  # type: ignore[union-attr]
                size += len(data)
                lines += data.count(b"\n")
    return size / 1e6, lines


def bench_sample(sample_dir: Path, repeat: int) -> list[Measure]:
    """Ingest of the sample bundle, then of the bundle ``repeat`` times over."""
    archives = sorted(sample_dir.glob("*.tar.gz"))
    if not archives:
        print(f"sample bundle not found under {sample_dir}; skipped", file=sys.stderr)
        return []
    archive = archives[0]
    mbytes, lines = _archive_size(archive)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        for i in range(3):
            results.append(
                run(
                    f"ingest sample (run {i + 1})",
                    ["ingest", str(archive), "--out", str(out)],
                    mbytes,
                    lines,
                )
            )
        many = Path(tmp) / "many"
        many.mkdir()
        for i in range(repeat):
            (many / f"copy{i:02d}.tar.gz").symlink_to(archive.resolve())
        results.append(
            run(
                f"ingest sample x{repeat}",
                ["ingest", str(many), "--out", str(out)],
                mbytes * repeat,
                lines * repeat,
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(prog="python -m reportgen.bench")
    parser.add_argument("--sample", default="../shared/data/sotm34", type=Path)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    print(HEADER)
    for m in bench_sample(args.sample, args.repeat):
        print(m.row(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
