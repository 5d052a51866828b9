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

from reportgen.model import Event, Malformed
from reportgen.sources.envelope import read_envelope

NAME = "netfilter"
DESCRIPTION = "Netfilter/iptables packet logs (kernel lines in syslog or kern.log), any prefix"
SPECIFICITY = 30
CARRIED_IN_SYSLOG = True

FIELDS = re.compile(
    r"IN=(\S*) (?:PHYSIN=(\S*) )?OUT=(\S*) (?:PHYSOUT=(\S*) )?(?:MAC=(\S*) ?)?"
    # Some sanitized or damaged lines join SRC and DST with a dot instead of a space.
    r"SRC=(\S+?)[ .]DST=(\S+) LEN=(\d+) "
    r"(?:TOS=\S+ PREC=\S+ TTL=(\d+) ID=\d+|TC=\S+ HOPLIMIT=(\d+) FLOWLBL=\d+)"
    r"(?: CE| DF| MF)*(?: FRAG=\d+)?(?: OPT \([0-9A-Fa-f]*\))? PROTO=(\S+)"
    r"(?: SPT=(\d{1,5}) DPT=(\d{1,5}))?(?: LEN=\d+)?(?: SEQ=\d+ ACK=\d+)?"
    r"(?: WINDOW=(\d+))?(?: RES=\S+)?((?: (?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN)(?![A-Z=]))*)"
    r"(?: URGP=\d+)?(?: TYPE=(\d+) CODE=(\d+))?"
)
_UPTIME = re.compile(r"\[\s*(\d+\.\d+)\]\s*")
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
    (
        iface_in,
        physin,
        iface_out,
        physout,
        mac,
        src,
        dst,
        length,
        ttl,
        hoplimit,
        proto,
        spt,
        dpt,
        window,
        flags,
        icmp_type,
        icmp_code,
    ) = m.groups()
    extra: dict[str, str] = {"in": iface_in, "out": iface_out, "len": length}
    if physin is not None:
        extra["physin"] = physin
        extra["physout"] = physout or ""
    if mac:
        extra["mac"] = mac
    extra["ttl"] = ttl or hoplimit
    if window is not None:
        extra["window"] = window
    if flags:
        extra["flags"] = flags[1:]
    if icmp_type is not None:
        extra["icmp_type"] = icmp_type
        extra["icmp_code"] = icmp_code
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
        src,
        _port(spt),
        dst,
        _port(dpt),
        proto,
        None,
        label or None,
        None,
        None,
        extra,
        number,
        text,
    )
