"""Benchmarks (``make bench``): wall and CPU time, throughput and peak memory.

Each measured run is a fresh ``python -m reportgen`` process, so imports,
worker start-up and the final write of the store are all counted; peak memory
is the largest sum of resident memory over the process and its workers, sampled
from /proc every 20 ms. Numbers are printed as a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import os
import re
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
    stages: str = ""

    def row(self) -> str:
        """A Markdown table row (stages measured inside a run have no CPU or memory)."""
        cpu = "" if self.cpu != self.cpu else f"{self.cpu:.2f}"
        peak = "" if self.peak_mb != self.peak_mb else f"{self.peak_mb:.0f}"
        return (
            f"| {self.label} | {self.mbytes:,.1f} | {self.wall:.2f} | {cpu} | "
            f"{self.mbytes / self.wall:.1f} | {self.lines / self.wall:,.0f} | {peak} |"
        )


HEADER = (
    "| run | input MB | wall s | CPU s | MB/s | lines/s | peak MB |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


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
        stdout=subprocess.PIPE,
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
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{label}: exit {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = TIMINGS.search(out.decode(errors="replace"))
    return Measure(label, wall, cpu, peak / 2**20, mbytes, lines, found.group(1) if found else "")


def _size(path: Path) -> tuple[float, int]:
    """Uncompressed MB and lines of a bundle (archive, or directory of plain and .gz files)."""
    import gzip

    size = lines = 0
    if path.is_file() and tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            for info in tar:
                if info.isfile():
                    data = tar.extractfile(info).read()  # type: ignore[union-attr]
                    size += len(data)
                    lines += data.count(b"\n")
        return size / 1e6, lines
    for f in sorted(path.rglob("*")):
        if f.is_file():
            opener = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    size += len(block)
                    lines += block.count(b"\n")
    return size / 1e6, lines


TIMINGS = re.compile(r"\((ingest [\d.]+ s.*?)\)")


def report_run(label: str, bundle: Path, site: Path, mbytes: float, lines: int) -> list[Measure]:
    """One ``reportgen report`` run: the whole pipeline, then each stage from its own timer."""
    m = run(label, ["report", str(bundle), "--out", str(site), "--name", "bench"], mbytes, lines)
    stages = []
    for part in m.stages.split(", "):
        name, seconds, _ = part.split(" ")
        stages.append(
            Measure(f"{label}: {name}", float(seconds), float("nan"), float("nan"), mbytes, lines)
        )
    return [m, *stages]


def bench_sample(sample_dir: Path, repeat: int) -> list[Measure]:
    """The sample bundle: ingest alone (three runs), the whole report, and ingest of x``repeat``."""
    archives = sorted(sample_dir.glob("*.tar.gz"))
    if not archives:
        print(f"sample bundle not found under {sample_dir}; skipped", file=sys.stderr)
        return []
    archive = archives[0]
    mbytes, lines = _size(archive)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        for i in range(3):
            results.append(
                run(
                    f"sample: ingest (run {i + 1})",
                    ["ingest", str(archive), "--out", str(out)],
                    mbytes,
                    lines,
                )
            )
        results += report_run("sample: report", archive, Path(tmp) / "site", mbytes, lines)
        many = Path(tmp) / "many"
        many.mkdir()
        for i in range(repeat):
            (many / f"copy{i:02d}.tar.gz").symlink_to(archive.resolve())
        results.append(
            run(
                f"sample x{repeat}: ingest",
                ["ingest", str(many), "--out", str(out)],
                mbytes * repeat,
                lines * repeat,
            )
        )
    return results


def bench_demo(scales: list[float]) -> list[Measure]:
    """The demo incident at each scale, generated in a temporary directory and deleted after."""
    from reportgen import demo

    results = []
    for scale in scales:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            demo.write(demo.plan(1, scale), Path(tmp) / "demo")
            generated = time.perf_counter() - started
            bundle = Path(tmp) / "demo" / "bundle"
            mbytes, lines = _size(bundle)
            print(
                f"<!-- demo scale {scale:g}: {mbytes:,.0f} MB, {lines:,} lines, generated in "
                f"{generated:.0f} s -->",
                flush=True,
            )
            results += report_run(
                f"demo x{scale:g}: report", bundle, Path(tmp) / "site", mbytes, lines
            )
            for r in results[-4:]:
                print(r.row(), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(prog="python -m reportgen.bench")
    parser.add_argument("--sample", default="../shared/data/sotm34", type=Path)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--scales",
        default="1,10,100",
        help="demo scales, comma-separated (100 is about 5 GB of logs)",
    )
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    print(HEADER)
    for m in bench_sample(args.sample, args.repeat):
        print(m.row(), flush=True)
    scales = [float(x) for x in args.scales.split(",") if x.strip()]
    bench_demo(scales)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
