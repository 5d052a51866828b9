"""Command line: arguments, progress, the summary table, exit codes; calls the pipeline.

Exit codes: 0 the output was written and nothing needs attention; 1 it was
written but some input needs attention (unrecognized or unreadable files,
truncated archives, lines no format could read); 2 usage error or no readable
input; 3 internal error (a bug: please report it with the message).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from reportgen import __version__, pipeline, sources
from reportgen.clock import parse_zone
from reportgen.ingest import Options
from reportgen.inputs import Limits

EXIT_OK, EXIT_ATTENTION, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad arguments or unreadable input: one line for the user, exit 2."""


def _pairs(values: Sequence[str] | None, what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or ():
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise UsageError(f"{what} expects KEY=VALUE, got {value!r}")
        pairs.append((key, rest))
    return pairs


def _options(args: argparse.Namespace) -> Options:
    zones = {}
    for host, zone in _pairs(args.tz, "--tz"):
        try:
            zones[host] = parse_zone(zone)
        except ValueError as exc:
            raise UsageError(f"--tz {host}={zone}: {exc}") from exc
    forced = {}
    for name, path in _pairs(args.format, "--format"):
        if name not in sources.BY_NAME:
            known = ", ".join(sources.BY_NAME)
            raise UsageError(f"--format: unknown format {name!r} (known: {known})")
        forced[path] = name
    if args.year is not None and not 1970 <= args.year <= 2100:
        raise UsageError(f"--year {args.year}: expected a year between 1970 and 2100")
    limits = Limits(
        max_line_bytes=args.max_line_bytes,
        max_file_bytes=args.max_file_bytes,
        max_files=args.max_files,
    )
    return Options(year=args.year, zones=zones, forced=forced, limits=limits, jobs=args.jobs)


def _input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, help="year of lines that carry none (syslog, Snort)")
    parser.add_argument(
        "--tz",
        action="append",
        metavar="HOST=ZONE",
        help="zone of a host's clock: UTC, -0500, Europe/Berlin; HOST * for all",
    )
    parser.add_argument(
        "--format",
        action="append",
        metavar="NAME=PATH",
        help="force a format for a file (path as shown, or its base name)",
    )
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=Limits.max_line_bytes,
        help="longer lines are cut and reported",
    )
    parser.add_argument(
        "--max-file-bytes",
        type=int,
        default=Limits.max_file_bytes,
        help="bytes read from one file (after decompression)",
    )
    parser.add_argument(
        "--max-files", type=int, default=Limits.max_files, help="files read from the input"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="reportgen", description="Turn a server's logs into a forensic write-up."
    )
    parser.add_argument("--version", action="version", version=f"reportgen {__version__}")
    parser.add_argument("--list-formats", action="store_true", help="list the log formats and exit")
    sub = parser.add_subparsers(dest="command")
    ingest = sub.add_parser("ingest", help="read logs into an event store (DIR/events.duckdb)")
    ingest.add_argument("logdir", help="directory, file or archive of logs")
    ingest.add_argument("--out", required=True, help="output directory")
    _input_options(ingest)
    report = sub.add_parser("report", help="ingest, analyze and write the report into SITE/NAME/")
    report.add_argument("logdir", nargs="?", help="directory, file or archive of logs")
    report.add_argument("--out", default="site", help="site directory (default: site)")
    report.add_argument("--name", help="report name (default: the input's name)")
    report.add_argument(
        "--demo", action="store_true", help="report on the built-in demo incident instead of LOGDIR"
    )
    report.add_argument(
        "--generated-at",
        help="timestamp to print in the report "
        "(default: SOURCE_DATE_EPOCH if set, else none: output stays reproducible)",
    )
    _input_options(report)
    demo = sub.add_parser("demo", help="write the built-in demo incident and its answer key")
    demo.add_argument("outdir")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--scale", type=float, default=0.1, help="1 is about 50 MB of logs")
    demo.add_argument("--offset", type=float, help="planted clock offset of the server, seconds")
    demo.add_argument("--drift", type=float, help="planted drift, seconds per day")
    return parser


def _check_input(path: str) -> None:
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file or directory")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: not readable")


def list_formats() -> str:
    """One line per format: name, specificity, description."""
    return "\n".join(f"{f.name:<14} {f.description}" for f in sources.FORMATS)


class Console:
    """Progress on stderr while reading (only on a terminal), then the summary table."""

    def __init__(self) -> None:
        from rich.console import Console as RichConsole

        self.err = RichConsole(stderr=True, highlight=False)
        self.out = RichConsole(highlight=False, width=None if sys.stdout.isatty() else 132)
        self._bar: Any = None
        self._task: Any = None

    def progress(self, shown: str, nbytes: int) -> None:
        """Advance the progress display by ``nbytes`` read from ``shown``."""
        if not self.err.is_terminal:
            return
        if self._bar is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self._bar = Progress(
                "{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=self.err,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("reading", total=None)
        self._bar.update(self._task, advance=nbytes, description=_short(shown))

    def stop(self) -> None:
        """Remove the progress display."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def summary(self, result: pipeline.IngestResult) -> None:
        """One screen: per source format, host, lines, events, problems, time range."""
        from rich.markup import escape
        from rich.table import Table

        self.stop()
        table = Table(title=f"{result.db_path}  ({result.seconds:.2f} s)", title_justify="left")
        for column in (
            "source",
            "files",
            "format",
            "host",
            "lines",
            "events",
            "problems",
            "first",
            "last",
        ):
            numeric = column in ("files", "lines", "events", "problems")
            table.add_column(column, justify="right" if numeric else "left", overflow="fold")
        for row in pipeline.source_rows(result.db_path):
            table.add_row(
                *(
                    escape(f"{v:,}" if isinstance(v, int) else str(v)) if v is not None else ""
                    for v in row
                )
            )
        self.out.print(table)
        for file, reason in result.input_problems:
            self.out.print(f"[yellow]input problem[/] {escape(file)}: {escape(reason)}")
        for warning in result.warnings:
            self.out.print(f"[yellow]assumption[/] {escape(warning)}")


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _generated_at(args: argparse.Namespace) -> str | None:
    if args.generated_at:
        return str(args.generated_at)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        from datetime import UTC, datetime

        return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return None


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reportgen import demo

    if not 0 < args.scale <= 1000:
        raise UsageError(f"--scale {args.scale}: expected a number above 0 and at most 1000")
    truth = demo.write(demo.plan(args.seed, args.scale, args.offset, args.drift), Path(args.outdir))
    print(f"{args.outdir}/bundle: {truth['lines']:,} lines; answer key: {args.outdir}/truth.json")
    return EXIT_OK


def _report(args: argparse.Namespace, console: Console) -> int:
    if args.demo:
        from reportgen import demo

        logdir = demo.cached_bundle()
        name = args.name or "demo-incident"
    else:
        if not args.logdir:
            raise UsageError("report needs LOGDIR (or --demo)")
        logdir = args.logdir
        name = args.name or os.path.basename(os.path.normpath(logdir)).split(".")[0] or "report"
    _check_input(logdir)
    options = _options(args)
    result = pipeline.run(logdir, args.out, name, options, console.progress, _generated_at(args))
    console.summary(result)
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    print(f"report: {result.report}  ({timings})")
    return EXIT_ATTENTION if result.needs_attention else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_formats:
        print(list_formats())
        return EXIT_OK
    if args.command is None:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    console = Console()
    try:
        if args.command == "report":
            return _report(args, console)
        if args.command == "demo":
            return _demo(args)
        _check_input(args.logdir)
        options = _options(args)
        if args.command == "ingest":
            result = pipeline.ingest_only(args.logdir, args.out, options, console.progress)
            console.summary(result)
            return EXIT_ATTENTION if result.needs_attention else EXIT_OK
    except UsageError as exc:
        print(f"reportgen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except pipeline.NoInput as exc:
        print(f"reportgen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("reportgen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the promise: no traceback reaches the user
        print(
            f"reportgen: internal error: {type(exc).__name__}: {exc} "
            "(please report this with the command you ran)",
            file=sys.stderr,
        )
        if os.environ.get("REPORTGEN_DEBUG"):
            raise
        return EXIT_INTERNAL
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
