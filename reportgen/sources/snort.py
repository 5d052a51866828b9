"""Snort IDS alerts: syslog-wrapped alerts and the ``fast`` alert file.

One real sample line per variant::

    Jun 15 12:21:33 ids1 snort: [1:483:5] ICMP PING CyberKit 2.2 Windows [Classification: Misc activity] [Priority: 3]: {ICMP} 203.0.113.88 -> 192.0.2.100
    Jun 15 23:49:38 ids1 snort: [1:2050:7] MS-SQL version overflow attempt [Classification: Misc activity] [Priority: 3]: {UDP} 203.0.113.214:1609 -> 192.0.2.100:1434
    Jun 15 13:09:33 ids1 snort: [111:2:1] (spp_stream4) possible EVASIVE RST detection {TCP} 203.0.113.36:2997 -> 192.0.2.69:3128
    Jun 15 13:09:34 ids1 snort: [104:1:1] Spade: Closed dest port used: local dest, syn: 0.9279 {TCP} 203.0.113.36:2987 -> 192.0.2.67:8080
    03/16-05:39:05.123456  [**] [1:1000:3] RPC mountd UDP export request [**] [Classification: Attempted Information Leak] [Priority: 2] {UDP} 198.51.100.3:724 -> 192.0.2.10:635
    03/16/05-05:39:05.123456  [**] [1:408:5] ICMP Echo Reply [**] [Classification: Misc activity] [Priority: 3] {ICMP} 192.0.2.10 -> 198.51.100.3

Preprocessor alerts (Spade, stream4, portscan) have no classification or
priority, and ICMP alerts no ports. Fast-alert files name no host; their year is
present only when Snort ran with ``-y``.

Kind: ``snort:alert``. Columns: src/dst address and port, ``proto``, ``message``
(the rule's message), ``action`` = ``gid:sid:rev``. ``extra``: gid, sid, rev,
classification, priority.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from reportgen.clock import YEARLESS_BASE, date_time_reading
from reportgen.model import Event, Malformed
from reportgen.sources import columns as col
from reportgen.sources.columns import line_pattern
from reportgen.sources.envelope import RFC3164_HEAD, read_envelope

NAME = "snort"
DESCRIPTION = "Snort alerts: syslog-wrapped, and the fast alert file"
SPECIFICITY = 30
CARRIED_IN_SYSLOG = True

# An address, then its port after ":". Some damaged or sanitized lines join the
# port with "." or leave a trailing "." ("203.0.113.5.80. ->"): still read them.
_ADDR = (
    r"(?P<{0}>\d{{1,3}}(?:\.\d{{1,3}}){{3}}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*?)"
    r"(?:[:.](?P<{1}>\d{{1,5}}))?\.?"
)
ALERT = re.compile(
    r"\[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\] (?P<msg>.*?)(?: \[\*\*\])?"
    r"(?: \[(?P<classified>Classification: )(?P<class>[^\]\n]*)\])?(?: \[Priority: (?P<prio>\d+)\])?"
    r":? \{(?P<proto>[^}\n]*)\} "
    + _ADDR.format("src", "spt")
    + " ?-> "
    + _ADDR.format("dst", "dpt")
    + r"[^\S\n]*$"
)
"""The alert after its time stamp. Lines never hold a newline; the classes exclude
it anyway so the columnar fast path can run this over a whole block."""
FAST = re.compile(
    r"(?P<mon>\d\d)/(?P<day>\d\d)(?:/(?P<yy>\d\d))?-(?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<us>\d{1,6}))?"
    r"\s+\[\*\*\] "
)
MARKERS = (("snort",), ("[**]",))
"""Every line this format accepts holds all the strings of one of these groups."""
_NOT_MINE = "not a Snort alert: no [gid:sid:rev] ... {PROTO} src -> dst"


def _event(
    reading: int,
    offset: int | None,
    yearless: bool,
    host: str | None,
    pid: int | None,
    body: re.Match[str],
    number: int,
    text: str,
) -> Event:
    extra: dict[str, Any] = {
        "gid": int(body["gid"]),
        "sid": int(body["sid"]),
        "rev": int(body["rev"]),
    }
    if body["classified"] is not None:
        extra["classification"] = body["class"]
    if body["prio"] is not None:
        extra["priority"] = int(body["prio"])
    spt, dpt = body["spt"], body["dpt"]
    return Event(
        reading,
        offset,
        yearless,
        NAME,
        "snort:alert",
        host,
        "snort",
        pid,
        body["src"],
        int(spt) if spt and int(spt) < 65536 else None,
        body["dst"],
        int(dpt) if dpt and int(dpt) < 65536 else None,
        body["proto"],
        None,
        f"{body['gid']}:{body['sid']}:{body['rev']}",
        None,
        body["msg"],
        extra,
        number,
        text,
    )


def _too_long(body: re.Match[str]) -> bool:
    """A rule number too long for a 64-bit integer: not something Snort writes."""
    return any(len(body[k] or "") > col.MAX_DIGITS for k in ("gid", "sid", "rev", "prio"))


def parse_line(text: str, number: int) -> Event | str:
    """One Snort alert line (syslog-wrapped or fast) to an event, or why not."""
    if "snort" not in text and "[**]" not in text:
        return _NOT_MINE
    fast = FAST.match(text)
    if fast is not None:
        body = ALERT.match(text, fast.end())
        if body is None:
            return Malformed("fast alert without [gid:sid:rev] message and {PROTO} src -> dst")
        if _too_long(body):
            return Malformed("fast alert with a rule number too long to be one")
        yy = fast["yy"]
        year = YEARLESS_BASE if yy is None else (2000 if int(yy) < 70 else 1900) + int(yy)
        try:
            reading = date_time_reading(
                year,
                int(fast["mon"]),
                int(fast["day"]),
                *(int(x) for x in fast["hms"].split(":")),
            ) + int((fast["us"] or "0").ljust(6, "0"))
        except ValueError:
            return Malformed("fast alert with an impossible date or time")
        return _event(reading, None, yy is None, None, None, body, number, text)
    env = read_envelope(text)
    if env is None or env.program is None or "snort" not in env.program:
        return _NOT_MINE
    if not env.message.startswith("["):
        return _NOT_MINE  # snort's own start-up and statistics lines are plain syslog
    body = ALERT.match(env.message)
    if body is None:
        return Malformed("snort syslog line without [gid:sid:rev] message and {PROTO} src -> dst")
    if _too_long(body):
        return Malformed("snort syslog line with a rule number too long to be one")
    return _event(
        env.reading, env.utc_offset, env.year_inferred, env.host, env.pid, body, number, text
    )


# The columnar fast path, for syslog-wrapped alerts: the header read exactly as
# read_envelope reads it (an atomic group), then ALERT from the message's start.
WHOLE = line_pattern("(?>" + RFC3164_HEAD + ")" + ALERT.pattern)
_OPTIONAL = tuple(
    n for n in WHOLE.groupindex if n not in ("mon", "day", "hms", "msg", "class", "proto")
)
"""Groups read as null where they took no part (the others are used as matched)."""


def parse_columns(text: str, raw: pa.Array) -> col.Parsed | None:
    """Every line of a block at once; see :mod:`reportgen.sources.columns`."""
    block = col.read_syslog_block(WHOLE, text, raw, "gid", _OPTIONAL)
    if block is None:
        return None
    g = block.groups
    claimed = pc.and_(block.claimed, pc.fill_null(pc.match_substring(g["prog"], "snort"), False))
    claimed = pc.and_(claimed, col.fits(g["pid"], g["gid"], g["sid"], g["rev"], g["prio"]))

    def number(name: str) -> pa.Array:
        return pc.cast(col.to_int(g[name], claimed), pa.string())

    extra = col.json_object(
        [
            ("gid", number("gid"), None),
            ("sid", number("sid"), None),
            ("rev", number("rev"), None),
            (
                "classification",
                col.json_string(g["class"], block.escape),
                pc.is_valid(g["classified"]),
            ),
            ("priority", number("prio"), pc.is_valid(g["prio"])),
        ]
    )
    columns = col.syslog_flow(g, claimed, block.reading, NAME, "snort:alert")
    return col.Parsed(
        claimed,
        columns
        | {
            "program": col.constant("snort", len(raw), pa.string()),
            "action": pc.binary_join_element_wise(g["gid"], g["sid"], g["rev"], ":"),
            "message": g["msg"],
            "extra": extra,
        },
    )
