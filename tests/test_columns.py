"""The columnar fast path claims a line only when it reads it exactly as parse_line does."""

from __future__ import annotations

import tarfile
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen import sources, store
from reportgen.ingest import _parse_columns, parse_block, split_lines
from reportgen.model import Event
from reportgen.sources import columns as col
from tests.golden import LOGS

FAST = [f.name for f in sources.FORMATS if f.parse_columns is not None]


def _choice(name: str) -> sources.Choice:
    fmt = sources.BY_NAME[name]
    return sources.Choice(fmt, sources.chain_for(fmt, {name: 1.0, "syslog": 0.5}), "")


def check_agrees(name: str, lines: list[str]) -> int:
    """Run the fast path over ``lines``; every row it claims must equal what the
    line parsers make of that line. Returns how many it claimed."""
    numbered = list(enumerate(lines, 1))
    batch, left = _parse_columns(numbered, 1, _choice(name))
    numbers = batch.column("line").to_pylist() if batch is not None else []
    assert len(numbers) + len(left) == len(lines)
    assert sorted(numbers + [n for n, _ in left]) == list(range(1, len(lines) + 1))
    choice = _choice(name)
    expected = list(sources.parse_lines([(n, lines[n - 1]) for n in numbers], choice))
    assert all(isinstance(e, Event) for e in expected)
    want = store.events_batch(expected, {}) if expected else None  # type: ignore[arg-type]
    if batch is None or want is None:
        assert batch is None and want is None
        return 0
    assert batch.column("raw").to_pylist() == [lines[n - 1] for n in numbers]
    if not batch.equals(want):  # find the row, and allow JSON to differ in form only
        for row, wanted in zip(batch.to_pylist(), want.to_pylist(), strict=True):
            row["extra"] = orjson.loads(row["extra"]) if row["extra"] else None
            wanted["extra"] = orjson.loads(wanted["extra"]) if wanted["extra"] else None
            assert row == wanted, row["raw"]
    return len(numbers)


@pytest.mark.parametrize("name", FAST)
def test_fast_path_agrees_on_its_fixture(name: str) -> None:
    lines = (LOGS / f"{name}.log").read_text().splitlines()
    # Every well-formed fixture line of these formats is taken by the fast path.
    assert check_agrees(name, lines) >= len(lines) // 2


def test_fast_path_agrees_on_the_sample(sample: Path) -> None:
    """Every line of the sample's firewall and IDS logs (a quarter of a million)."""
    checked = 0
    with tarfile.open(sample) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            head = tar.extractfile(member).read(4096).decode(errors="replace")  # type: ignore[union-attr]
            found = sources.choose(sources.scores(head.splitlines()[:50])).format
            if found is None or found.name not in FAST:
                continue
            lines = tar.extractfile(member).read().decode().splitlines()  # type: ignore[union-attr]
            assert check_agrees(found.name, lines) >= 0.99 * len(lines)
            checked += len(lines)
    assert checked > 100_000


# Lines built from the formats' parts, with the variants the parsers know and
# the characters that could make the two paths differ: quotes, backslashes,
# Unicode digits and spaces, control characters, glued and repeated fields.
ODD = st.sampled_from(
    ['"', "\\", "\u0663", "\u00a0", "\t", "\x0b", "\x1c", "é", "IN=", ":", "[", "]", " ", ""]
)
word = st.text(alphabet='abcXYZ019.:-_/[]"\\', min_size=0, max_size=8)
# Valid parts are drawn more often than broken ones, so that most lines reach the
# fast path and the comparison is not vacuous.
number = st.sampled_from(
    ["0", "3", "80", "139", "1629", "44620", "65535"] * 3 + ["65536", "99999", "0007", "9" * 25]
)
month = st.sampled_from(["Jan", "Feb", "Mar", "Dec"] * 3 + ["Foo", "jan"])
day = st.sampled_from([" 1", "01", "29", "31", "9"] * 3 + ["30", "32", "0"])
hms = st.sampled_from(
    ["00:00:00", "23:59:60", "12:34:56"] * 3 + ["23:59:69", "24:00:00", "12:60:00", "10:70:00"]
)


@st.composite
def header(draw: st.DrawFn, program: str) -> str:
    pri = draw(st.sampled_from(["", "<13>"]))
    tag = draw(
        st.sampled_from([f"{program}: ", f"{program}[{draw(number)}]: ", f"{program}:"] * 2 + [""])
    )
    host = draw(st.sampled_from(["fw1", "ids-2", "a.b"] * 3 + ["IN=x"]))
    gap = draw(st.sampled_from([" ", "  "]))
    return f"{pri}{draw(month)} {draw(day)} {draw(hms)} {host}{gap}{tag}"


@st.composite
def netfilter_line(draw: st.DrawFn) -> str:
    prefixes = [
        "",
        "DROP ",
        "[UFW BLOCK] ",
        "[ 12.5] X: ",
        "a IN=b ",
        "X : ",
        "attempts",
        ":: ",
        "[1.2]",
    ]
    parts = [draw(st.sampled_from(prefixes))]
    parts.append(f"IN={draw(word)} ")
    if draw(st.booleans()):
        parts.append(f"PHYSIN={draw(word)} ")
    parts.append(f"OUT={draw(word)} ")
    if draw(st.booleans()):
        parts.append(f"PHYSOUT={draw(word)} ")
    if draw(st.booleans()):
        parts.append(f"MAC={draw(word)} ")
    parts.append(f"SRC=198.51.100.{draw(number)}{draw(st.sampled_from([' ', '.']))}DST=192.0.2.1 ")
    parts.append(f"LEN={draw(number)} ")
    if draw(st.booleans()):
        parts.append(f"TOS=0x00 PREC=0x00 TTL={draw(number)} ID={draw(number)}")
    else:
        parts.append(f"TC=0 HOPLIMIT={draw(number)} FLOWLBL=0")
    parts.append(draw(st.sampled_from(["", " DF", " CE DF"])))
    parts.append(f" PROTO={draw(st.sampled_from(['TCP', 'UDP', 'ICMP']))}")
    if draw(st.booleans()):
        parts.append(f" SPT={draw(number)} DPT={draw(number)}")
    parts.append(draw(st.sampled_from(["", " LEN=8", " WINDOW=512 RES=0x00", " WINDOW=5"])))
    parts.append(draw(st.sampled_from(["", " SYN", " ACK PSH", " URGP=0", " SYN URGP=0", " URG="])))
    parts.append(draw(st.sampled_from(["", " TYPE=8 CODE=0 ID=1 SEQ=2", " OPT (0204)"])))
    return draw(header("kernel")) + "".join(parts)


@st.composite
def snort_line(draw: st.DrawFn) -> str:
    rule = f"[{draw(number)}:{draw(number)}:{draw(number)}]"
    message = draw(st.sampled_from(["ICMP PING", "x [y] z", "", "a:b", 'say "hi"']))
    parts = [rule, " ", message]
    if draw(st.booleans()):
        classes = ["Misc activity", "", "a]b", 'say "q" \\ x']
        parts.append(f" [Classification: {draw(st.sampled_from(classes))}]")
    if draw(st.booleans()):
        parts.append(f" [Priority: {draw(number)}]")
    parts.append(draw(st.sampled_from([": ", " "] * 3 + [":"])))
    parts.append("{" + draw(st.sampled_from(["TCP", "UDP", "ICMP", ""])) + "} ")
    src = draw(st.sampled_from(["203.0.113.5", "203.0.113.5:80", "203.0.113.5.80.", "::1:22"]))
    dst = draw(st.sampled_from(["192.0.2.1", "192.0.2.1:99999", "fe80::1"]))
    parts.append(f"{src} -> {dst}{draw(st.sampled_from(['', ' '] * 3 + ['x']))}")
    program = draw(st.sampled_from(["snort"] * 6 + ["snort2", "Snort", "xsnortx"]))
    return draw(header(program)) + "".join(parts)


def _mutate(line: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(0, 2))):
        at = data.draw(st.integers(0, len(line)))
        line = line[:at] + data.draw(ODD) + line[at:]
    return line


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_fast_path_agrees_on_generated_lines(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FAST))
    strategy = {"netfilter": netfilter_line(), "snort": snort_line()}[name]
    lines = [
        _mutate(data.draw(strategy), data).replace("\n", " ").replace("\r", " ")
        for _ in range(data.draw(st.integers(1, 12)))
    ]
    check_agrees(name, lines)


def test_generated_lines_mostly_take_the_fast_path() -> None:
    """The generators above do reach the fast path (the property is not vacuous)."""
    line = "Jun 15 12:11:24 fw1 kernel: DROP IN=br0 OUT= SRC=203.0.113.38 DST=192.0.2.83 LEN=64 TOS=0x00 PREC=0x00 TTL=47 ID=1 DF PROTO=TCP SPT=1629 DPT=139 WINDOW=44620 RES=0x00 SYN URGP=0"
    assert check_agrees("netfilter", [line, line.replace("fw1", "fw2")]) == 2
    alert = "Jun 15 12:21:33 ids1 snort[7]: [1:483:5] ICMP PING [Classification: Misc activity] [Priority: 3]: {ICMP} 203.0.113.88 -> 192.0.2.100"
    assert check_agrees("snort", [alert]) == 1


def test_a_netfilter_line_in_a_snort_file_is_left_to_netfilter() -> None:
    """The fast path of a less specific format never takes a line a more specific
    format of the chain could read (here netfilter, ahead of snort)."""
    odd = "Jun 15 12:21:33 ids1 snort: [1:1:1] IN= SRC= x {TCP} 203.0.113.88 -> 192.0.2.100"
    assert sources.may_accept(sources.BY_NAME["netfilter"], pa.array([odd])).to_pylist() == [True]
    batch, left = _parse_columns([(1, odd)], 1, _choice("snort"))
    assert batch is None and left == [(1, odd)]


def test_blocks_with_the_fast_path_keep_file_order() -> None:
    lines = (LOGS / "netfilter.log").read_text().splitlines()
    mixed = [x for pair in zip(lines, ["not a log line"] * len(lines), strict=True) for x in pair]
    block = "\n".join(mixed).encode()
    result = parse_block(("netfilter", "syslog"), "netfilter", "", block, 1, 1 << 20)
    assert result.batch is not None
    numbers = result.batch.column("line").to_pylist()
    assert numbers == sorted(numbers)
    numbered, _, _ = split_lines(block, 1, 1 << 20)
    assert result.lines == len(numbered) == result.batch.num_rows + len(result.problems)


def test_json_object_leaves_out_absent_members() -> None:
    value = pa.array(["a", "b"])
    got = col.json_object(
        [
            ("k", col.json_string(value), None),
            ("o", col.json_string(value), pa.array([True, False])),
        ]
    )
    assert [orjson.loads(x) for x in got.to_pylist()] == [{"k": "a", "o": "a"}, {"k": "b"}]
    quoted = col.json_string(pa.array(['say "hi" \\o/']))
    assert orjson.loads(quoted[0].as_py()) == 'say "hi" \\o/'
