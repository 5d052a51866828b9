"""Netfilter/iptables packet log lines, in syslog or kern.log.

The kernel writes a free-text prefix chosen by the firewall's rule (``--log-prefix``)
and then fixed ``KEY=value`` fields. The prefix is kept as the rule label
(``action``); it may be absent, end in a colon, be bracketed, follow an uptime
stamp, or be glued to ``IN=`` with no space. One real sample line per variant::

    Jun 15 12:11:24 fw1 kernel: INBOUND TCP: IN=br0 PHYSIN=eth0 OUT=br0 PHYSOUT=eth1 SRC=203.0.113.38 DST=192.0.2.83 LEN=64 TOS=0x00 PREC=0x00 TTL=47 ID=17159 DF PROTO=TCP SPT=1629 DPT=139 WINDOW=44620 RES=0x00 SYN URGP=0
    Jun 16 10:02:00 fw1 kernel: Drop udp after 23 attemptsIN=br0 PHYSIN=eth1 OUT=br0 PHYSOUT=eth0 SRC=192.0.2.67 DST=192.0.2.65 LEN=93 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=UDP SPT=514 DPT=514 LEN=73
    Jun 15 10:11:12 gw kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TOS=0x00 PREC=0x00 TTL=241 ID=54321 PROTO=TCP SPT=44123 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0
    Jun 15 10:11:13 gw kernel: FW-IN-DROP IN=eth0 OUT= SRC=198.51.100.9 DST=192.0.2.10 LEN=84 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=ICMP TYPE=8 CODE=0 ID=4242 SEQ=1

Kind: ``netfilter:packet``. Columns: src/dst address and port, ``proto``,
``action`` (the prefix). ``extra``: in, out, physin, physout, mac, len, ttl,
flags (TCP flags, space separated), window, icmp_type, icmp_code, uptime.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from reportgen.model import Event, Malformed
from reportgen.sources import columns as col
from reportgen.sources.columns import line_pattern
from reportgen.sources.envelope import RFC3164_HEAD, read_envelope

NAME = "netfilter"
DESCRIPTION = "Netfilter/iptables packet logs (kernel lines in syslog or kern.log), any prefix"
SPECIFICITY = 30
CARRIED_IN_SYSLOG = True

FIELDS = re.compile(
    r"IN=(?P<iface_in>\S*) (?:(?P<bridged>PHYSIN=)(?P<physin>\S*) )?OUT=(?P<iface_out>\S*) "
    r"(?:PHYSOUT=(?P<physout>\S*) )?(?:MAC=(?P<mac>\S*) ?)?"
    # Some sanitized or damaged lines join SRC and DST with a dot instead of a space.
    r"SRC=(?P<src>\S+?)[ .]DST=(?P<dst>\S+) LEN=(?P<length>\d+) "
    r"(?:TOS=\S+ PREC=\S+ TTL=(?P<ttl>\d+) ID=\d+|TC=\S+ HOPLIMIT=(?P<hoplimit>\d+) FLOWLBL=\d+)"
    r"(?: CE| DF| MF)*(?: FRAG=\d+)?(?: OPT \([0-9A-Fa-f]*\))? PROTO=(?P<proto>\S+)"
    r"(?: SPT=(?P<spt>\d{1,5}) DPT=(?P<dpt>\d{1,5}))?(?: LEN=\d+)?(?: SEQ=\d+ ACK=\d+)?"
    r"(?: WINDOW=(?P<window>\d+))?(?: RES=\S+)?"
    r"(?P<flags>(?: (?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN)(?![A-Z=]))*)"
    r"(?: URGP=\d+)?(?: TYPE=(?P<icmp_type>\d+) CODE=(?P<icmp_code>\d+))?"
)
_UPTIME = re.compile(r"\[\s*(\d+\.\d+)\]\s*")
MARKERS = (("IN=", "SRC="),)
"""Every line this format accepts holds all the strings of one of these groups."""
_NOT_MINE = "not a netfilter line: no IN=/SRC= fields after a syslog header"


def _port(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    return value if value < 65536 else None


def parse_line(text: str, number: int) -> Event | str:
    """One kernel packet-log line to an event, or the reason it is not one."""
    if "IN=" not in text or "SRC=" not in text:
        return _NOT_MINE
    env = read_envelope(text)
    if env is None:
        return _NOT_MINE
    message = env.message
    start = message.find("IN=")
    m = FIELDS.match(message, start)
    while m is None and start >= 0:  # a prefix may itself contain "IN="
        start = message.find("IN=", start + 3)
        m = FIELDS.match(message, start) if start >= 0 else None
    if m is None:
        return Malformed(
            "netfilter fields (IN= OUT= SRC= DST= LEN= ... PROTO=) incomplete or out of order"
        )
    g = m.groupdict()
    extra: dict[str, str] = {"in": g["iface_in"], "out": g["iface_out"], "len": g["length"]}
    if g["bridged"] is not None:
        extra["physin"] = g["physin"]
        extra["physout"] = g["physout"] or ""
    if g["mac"]:
        extra["mac"] = g["mac"]
    extra["ttl"] = g["ttl"] or g["hoplimit"]
    if g["window"] is not None:
        extra["window"] = g["window"]
    if g["flags"]:
        extra["flags"] = g["flags"][1:]
    if g["icmp_type"] is not None:
        extra["icmp_type"] = g["icmp_type"]
        extra["icmp_code"] = g["icmp_code"]
    label = message[:start]
    if label.startswith("["):
        u = _UPTIME.match(label)
        if u is not None:
            extra["uptime"] = u[1]
            label = label[u.end() :]
    label = label.strip().rstrip(":").strip()
    return Event(
        env.reading,
        env.utc_offset,
        env.year_inferred,
        NAME,
        "netfilter:packet",
        env.host,
        env.program,
        env.pid,
        g["src"],
        _port(g["spt"]),
        g["dst"],
        _port(g["dpt"]),
        g["proto"],
        None,
        label or None,
        None,
        None,
        extra,
        number,
        text,
    )


# The columnar fast path: the syslog header read exactly as read_envelope reads
# it (an atomic group: no backtracking into it), then the first "IN=" from which
# FIELDS matches, as parse_line's loop finds it.
WHOLE = line_pattern("(?>" + RFC3164_HEAD + ")(?P<prefix>.*?)" + FIELDS.pattern)
_UPTIME_PREFIX = r"^\[ *(?P<u>[0-9]+\.[0-9]+)\] *"
_OPTIONAL = tuple(n for n in WHOLE.groupindex if n not in ("mon", "day", "hms", "prefix", "flags"))
"""Groups read as null where they took no part (the others are used as matched)."""


def parse_columns(text: str, raw: pa.Array) -> col.Parsed | None:
    """Every line of a block at once; see :mod:`reportgen.sources.columns`."""
    block = col.read_syslog_block(WHOLE, text, raw, "src", _OPTIONAL)
    if block is None:
        return None
    g, claimed = block.groups, block.claimed
    prefix = g["prefix"]
    uptime = col.given(pc.struct_field(pc.extract_regex(prefix, _UPTIME_PREFIX), "u"))
    has_uptime = pc.and_(pc.starts_with(prefix, "["), pc.is_valid(uptime))
    label = pc.if_else(has_uptime, pc.replace_substring_regex(prefix, _UPTIME_PREFIX, ""), prefix)
    label = col.given(pc.utf8_trim(pc.utf8_rtrim(pc.utf8_trim(label, " "), ":"), " "))
    flags = g["flags"]
    ttl = pc.coalesce(g["ttl"], g["hoplimit"])

    def s(values: pa.Array) -> pa.Array:
        return col.json_string(values, block.escape)

    extra = col.json_object(
        [
            ("in", s(pc.fill_null(g["iface_in"], "")), None),
            ("out", s(pc.fill_null(g["iface_out"], "")), None),
            ("len", s(g["length"]), None),
            ("physin", s(pc.fill_null(g["physin"], "")), pc.is_valid(g["bridged"])),
            ("physout", s(pc.fill_null(g["physout"], "")), pc.is_valid(g["bridged"])),
            ("mac", s(g["mac"]), pc.is_valid(g["mac"])),
            ("ttl", s(ttl), None),
            ("window", s(g["window"]), pc.is_valid(g["window"])),
            ("flags", s(pc.utf8_slice_codeunits(flags, 1)), pc.greater(pc.utf8_length(flags), 0)),
            ("icmp_type", s(g["icmp_type"]), pc.is_valid(g["icmp_type"])),
            ("icmp_code", s(g["icmp_code"]), pc.is_valid(g["icmp_type"])),
            ("uptime", s(uptime), has_uptime),
        ]
    )
    columns = col.syslog_flow(g, claimed, block.reading, NAME, "netfilter:packet")
    return col.Parsed(claimed, columns | {"action": label, "extra": extra})
