"""Hypothesis properties: parsers never raise; every line is accounted for."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen import sources
from reportgen.ingest import parse_block, split_lines
from reportgen.model import Event, ParseProblem
from tests.golden import LOGS, fixtures

SEEDS = [line for path in fixtures() for line in path.read_text(errors="replace").splitlines()]

# Arbitrary text, and mutations of real lines (which reach deeper into the parsers).
mutated = st.builds(
    lambda line, cut, junk: line[:cut] + junk + line[cut:],
    st.sampled_from(SEEDS),
    st.integers(0, 400),
    st.text(max_size=20),
)
texts = st.one_of(st.text(max_size=300), mutated)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_every_parser_returns_an_event_or_a_reason(text: str) -> None:
    for fmt in sources.FORMATS:
        result = fmt.parse_line(text, 1)
        assert isinstance(result, Event | str)
        if isinstance(result, Event):
            assert result.raw == text and result.source == fmt.name


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(texts, st.binary(max_size=80).map(lambda b: b.decode("latin-1"))), max_size=30
    ),
    st.sampled_from([f.name for f in sources.FORMATS]),
)
def test_lines_equal_events_plus_problems(lines: list[str], fmt: str) -> None:
    block = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines).encode(
        "utf-8", "surrogateescape"
    )
    chain = tuple(f.name for f in sources.chain_for(sources.BY_NAME[fmt], {fmt: 1.0}))
    result = parse_block(chain, fmt, "", block, 1, 1 << 20)
    numbered, _, cut = split_lines(block, 1, 1 << 20)
    events = result.batch.num_rows if result.batch is not None else 0
    assert result.lines == len(numbered) + len(cut) == events + len(result.problems)
    assert all(isinstance(p, ParseProblem) for p in result.problems)


@given(st.binary(max_size=400))
def test_split_lines_never_loses_a_line(block: bytes) -> None:
    numbered, undecodable, cut = split_lines(block, 1, 1 << 20)
    body = block[:-1] if block.endswith(b"\n") else block
    assert len(numbered) + len(cut) == body.count(b"\n") + 1
    for number in undecodable:
        assert 1 <= number <= len(numbered) + len(cut)


def test_fixture_directory_exists() -> None:
    assert LOGS.is_dir() and SEEDS
