"""The format registry: finds the format modules, sniffs files, routes lines.

Every module in this package that defines ``NAME`` is a format. It also
defines ``DESCRIPTION``, ``SPECIFICITY`` and ``parse_line(text, number)``,
which returns an :class:`~reportgen.model.Event` or the reason the line is not
of its format. Formats that travel inside syslog set ``CARRIED_IN_SYSLOG``.

Sniffing uses the parser itself: a format's score is the share of sampled lines
its ``parse_line`` accepts, so sniffing and parsing can never disagree. The
most specific format with a confident score names the file; a tie between
equally specific formats, or no confident score, is reported with the scores
and never guessed.

Files may mix formats (a kern.log holding netfilter and other kernel lines, a
syslog file holding Snort alerts), so each line goes to the most specific
format of the file's chain that accepts it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc

from reportgen.model import Event, Malformed, ParseProblem
from reportgen.sources.columns import ColumnParser, Parsed, constant

CONFIDENT = 0.5
"""Share of sampled lines a format must accept to name a file."""
SAMPLE_LINES = 200
"""Non-blank lines from the start of a file used for sniffing."""

LineParser = Callable[[str, int], "Event | str"]


@dataclass(frozen=True)
class Format:
    """A registered log format."""

    name: str
    description: str
    specificity: int
    carried_in_syslog: bool
    parse_line: LineParser
    module: ModuleType
    parse_columns: ColumnParser | None = None
    """The columnar fast path, for formats that fill the largest files."""
    markers: tuple[tuple[str, ...], ...] | None = None
    """Every accepted line holds all strings of one group (None: no such promise)."""


def _discover() -> tuple[Format, ...]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not hasattr(module, "NAME"):
            continue
        found.append(
            Format(
                module.NAME,
                module.DESCRIPTION,
                module.SPECIFICITY,
                getattr(module, "CARRIED_IN_SYSLOG", False),
                module.parse_line,
                module,
                getattr(module, "parse_columns", None),
                getattr(module, "MARKERS", None),
            )
        )
    return tuple(sorted(found, key=lambda f: (-f.specificity, f.name)))


FORMATS: tuple[Format, ...] = _discover()
"""All formats, most specific first."""
BY_NAME = {f.name: f for f in FORMATS}


def scores(sample: Sequence[str]) -> dict[str, float]:
    """Each format's share of the sample it accepts."""
    if not sample:
        return {f.name: 0.0 for f in FORMATS}
    result = {}
    for fmt in FORMATS:
        accepted = sum(
            1 for i, line in enumerate(sample) if isinstance(fmt.parse_line(line, i), Event)
        )
        result[fmt.name] = accepted / len(sample)
    return result


@dataclass(frozen=True)
class Choice:
    """The outcome of sniffing one file."""

    format: Format | None
    chain: tuple[Format, ...]
    reason: str


def _describe(found: dict[str, float]) -> str:
    ranked = sorted(found.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {score:.0%}" for name, score in ranked if score > 0) or "no format"


def choose(found: dict[str, float]) -> Choice:
    """The format that names a file, and the chain that parses its lines."""
    confident = [f for f in FORMATS if found.get(f.name, 0.0) >= CONFIDENT]
    if not confident:
        return Choice(
            None, (), f"no format accepts {CONFIDENT:.0%} of sampled lines ({_describe(found)})"
        )
    top = confident[0].specificity
    best = max(found[f.name] for f in confident if f.specificity == top)
    leaders = [f for f in confident if f.specificity == top and found[f.name] == best]
    if len(leaders) > 1:
        names = " and ".join(f.name for f in leaders)
        return Choice(None, (), f"tie between {names} ({_describe(found)})")
    return Choice(leaders[0], chain_for(leaders[0], found), _describe(found))


def chain_for(winner: Format, found: dict[str, float]) -> tuple[Format, ...]:
    """Formats that may claim lines of a file, most specific first."""
    members = {f.name for f in FORMATS if found.get(f.name, 0.0) > 0} | {winner.name}
    if "syslog" in members:
        # Rare carried lines (one Snort alert in a messages file) may miss the sample.
        members |= {f.name for f in FORMATS if f.carried_in_syslog}
    return tuple(f for f in FORMATS if f.name in members)


def forced(fmt: Format) -> Choice:
    """The user forced ``fmt``: only it parses the file."""
    return Choice(fmt, (fmt,), "forced by --format")


def parse_lines(lines: Iterable[tuple[int, str]], choice: Choice) -> Iterator[Event | ParseProblem]:
    """Route numbered lines along the chain; lines no format takes become problems.

    A line a format calls :class:`Malformed` (its own, but broken) stops there;
    otherwise a problem's reason is the one given by the format that names the file.
    """
    primary = choice.format.parse_line if choice.format else None
    parsers = [f.parse_line for f in choice.chain]
    for number, text in lines:
        reason = "no format of this file accepts the line"
        for parse in parsers:
            result = parse(text, number)
            if isinstance(result, Event):
                yield result
                break
            if isinstance(result, Malformed):
                yield ParseProblem(number, result, text)
                break
            if parse is primary:
                reason = result
        else:
            yield ParseProblem(number, reason if text.strip() else "blank line", text)


def may_accept(fmt: Format, raw: pa.Array) -> pa.BooleanArray:
    """Lines ``fmt`` might accept, judged from its markers alone (all, if it has none)."""
    if fmt.markers is None:
        return constant(True, len(raw), pa.bool_())
    result = constant(False, len(raw), pa.bool_())
    for group in fmt.markers:
        holds = constant(True, len(raw), pa.bool_())
        for marker in group:
            holds = pc.and_(holds, pc.match_substring(raw, marker))
        result = pc.or_(result, holds)
    return result


def parse_columns(text: str, raw: pa.Array, choice: Choice) -> Parsed | None:
    """Run the columnar fast path of the format that names the file, if it has one.

    A line it claims is one that format's ``parse_line`` accepts, so it must be one
    no format earlier in the chain (more specific) accepts: the markers of those
    formats rule them out. Lines it does not claim go to :func:`parse_lines`.
    """
    fmt = choice.format
    if fmt is None or fmt.parse_columns is None or fmt not in choice.chain:
        return None
    earlier = choice.chain[: choice.chain.index(fmt)]
    if any(f.markers is None for f in earlier):
        return None
    parsed = fmt.parse_columns(text, raw)
    if parsed is None:
        return None
    claimed = parsed.claimed
    for other in earlier:
        claimed = pc.and_(claimed, pc.invert(may_accept(other, raw)))
    return Parsed(claimed, parsed.columns)
