"""The syslog envelope shared by every format that travels inside syslog.

Not a format itself (it has no ``NAME``): syslog, netfilter and Snort lines all
begin with the same header, and reading it in one place keeps their clocks
consistent. Three headers are understood:

* RFC 3164, as written by syslogd to files, optionally with a ``<PRI>``::

    Jun  1 10:02:16 fw1 kernel: INBOUND TCP: IN=br0 ...
    Jun 17 13:06:36 web1  -- root[17812]: ROOT LOGIN ON tty1

* RFC 5424::

    <34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed

* rsyslog's high-precision file format (ISO time, then the 3164 tag)::

    2011-06-15T10:11:12.123456+02:00 web1 sshd[411]: Accepted publickey for ops ...
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

from reportgen.clock import datetime_to_reading, month_day_reading

# The tag is "program[pid]: " but real files also hold "syslogd 1.4.1: restart.",
# "su(pam_unix)[26013]: ...", "postfix/smtpd[9]: ..." and " -- root[17812]: ..."
# (login's ident), and lines with no tag at all ("last message repeated 3 times").
_TAG_HEAD = r"(?:(?P<prog>(?:-- )?[^\s\[\]:]+)(?: [\d.]+)?(?:\[(?P<pid>\d{1,9})\])?: ?)?"
_TAG = _TAG_HEAD + r"(?P<msg>.*)"

RFC3164_HEAD = (
    r"(?:<\d{1,3}>)?(?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]?\d) (?P<hms>\d\d:\d\d:\d\d) "
    r"(?P<host>\S+) +" + _TAG_HEAD
)
"""The RFC 3164 header and tag, up to the message: the columnar parsers of the
formats carried in syslog start their patterns with it (as an atomic group, so it
is read exactly as :func:`read_envelope` reads it)."""
RFC3164 = re.compile(RFC3164_HEAD + r"(?P<msg>.*)", re.DOTALL)
ISO_TAGGED = re.compile(
    r"(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) "
    r"(?P<host>\S+) +" + _TAG,
    re.DOTALL,
)
RFC5424 = re.compile(
    r"<\d{1,3}>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?",
    re.DOTALL,
)


class Envelope(NamedTuple):
    """The header of one syslog line."""

    reading: int
    utc_offset: int | None
    year_inferred: bool
    host: str
    program: str | None
    pid: int | None
    message: str


def iso_reading(text: str) -> tuple[int, int | None]:
    """An ISO 8601 timestamp to (reading as written, offset seconds or None)."""
    if len(text) > 26 and "." in text:
        # fromisoformat takes at most 6 fractional digits; RFC 5424 allows 9.
        head, _, frac = text.partition(".")
        digits = re.match(r"\d+", frac)
        if digits:
            frac = digits.group()[:6] + frac[len(digits.group()) :]
        text = f"{head}.{frac}"
    value = datetime.fromisoformat(text)
    offset = value.utcoffset()
    seconds = None if offset is None else int(offset.total_seconds())
    return datetime_to_reading(value), seconds


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def read_envelope(line: str) -> Envelope | None:
    """Read the syslog header of ``line``; None if it has none we know."""
    m = RFC3164.match(line)
    if m is not None:
        # Positional groups: this runs once per line of the largest files.
        mon, day, hms, host, prog, pid, msg = m.groups()
        try:
            reading = month_day_reading(mon, day, hms)
        except (KeyError, ValueError):
            return None
        return Envelope(reading, None, True, host, prog, int(pid) if pid else None, msg)
    m = ISO_TAGGED.match(line)
    if m is None:
        m5 = RFC5424.match(line)
        if m5 is None:
            return None
        try:
            reading, offset = iso_reading(m5["ts"])
        except ValueError:
            return None
        app = None if m5["app"] == "-" else m5["app"]
        procid = m5["procid"]
        pid = int(procid) if procid.isdigit() and len(procid) < 10 else None
        msg = m5["msg"] or ""
        if msg.startswith("\ufeff"):  # RFC 5424 marks UTF-8 messages with a BOM
            msg = msg[1:]
        return Envelope(reading, offset, False, m5["host"], app, pid, msg)
    try:
        reading, offset = iso_reading(m["ts"])
    except ValueError:
        return None
    return Envelope(reading, offset, False, m["host"], m["prog"], _int(m["pid"]), m["msg"])
