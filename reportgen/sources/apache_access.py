"""Apache (and compatible) access logs: common, combined and vhost_combined.

One real sample line per variant::

    203.0.113.164 - - [15/Jun/2011:04:05:47 -0500] "POST /_vti_bin/_vti_aut/fp30reg.dll HTTP/1.1" 404 1063 "-" "-"
    198.51.100.37 - - [15/Jun/2011:01:59:43 -0500] "GET /NULL.printer" 404 1061 "-" "-"
    192.0.2.44 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326
    www.example.com:443 198.51.100.2 - - [15/Jun/2011:10:11:12 +0200] "GET / HTTP/1.1" 200 512 "-" "curl/7.21"

Malformed requests are still events: a request with no protocol, the empty
request ``""`` of a client that sent nothing, and binary garbage all keep the
client address, time and status; only the method/URL split is skipped.
Apache 2.0.46 and later escape quotes and bytes in the request; older servers
wrote them raw, so the request ends at the last ``" NNN `` before the status.

Kind: ``apache:access``. Columns: ``src_ip`` (client), ``user``, ``action``
(method), ``outcome`` (status), ``message`` (the request line), ``dst_port``
(from the vhost). ``extra``: url, protocol, bytes, referer, agent, vhost, ident.
"""

from __future__ import annotations

import re
from typing import Any

from reportgen.clock import offset_seconds, text_reading
from reportgen.model import Event, Malformed

NAME = "apache_access"
DESCRIPTION = "Apache access log: common, combined, vhost_combined; any zone offset"
SPECIFICITY = 20

LINE = re.compile(
    r"(?:(?P<vhost>[^\s\[\]\"]+) (?=\S+ \S+ \S+ \[))?(?P<client>[^\s\[\]\"]+) (?P<ident>\S+) "
    r"(?P<user>\S+) \[(?P<day>\d\d)/(?P<mon>[A-Za-z]{3})/(?P<year>\d{4}):(?P<hh>\d\d):(?P<mm>\d\d):"
    r"(?P<ss>\d\d)(?:\.(?P<us>\d{1,6}))? (?P<tz>[+-]\d{4})\] "
    r"\"(?P<request>.*?)\" (?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r"(?: \"(?P<referer>.*?)\" \"(?P<agent>.*)\")?(?P<rest>[^\"]*)$",
    re.DOTALL,
)
REQUEST = re.compile(
    r"(?P<method>[A-Za-z][A-Za-z_-]{0,31}) (?P<url>\S.*?)(?: (?P<proto>HTTP/[\d.]+))?$"
)
_NOT_MINE = 'not an access-log line: client ident user [time] "request" status bytes'


def _dash(value: str | None) -> str | None:
    return None if value in (None, "-", "") else value


def parse_line(text: str, number: int) -> Event | str:
    """One access-log line to an event, or the reason it is not one."""
    m = LINE.match(text)
    if m is None:
        return _NOT_MINE
    try:
        reading = text_reading(m["year"], m["mon"], m["day"], m["hh"], m["mm"], m["ss"], m["us"])
        offset = offset_seconds(m["tz"])
    except (KeyError, ValueError):
        return Malformed("access-log line with an impossible date, time or zone")
    request = m["request"]
    extra: dict[str, Any] = {}
    method = None
    r = REQUEST.match(request)
    if r is not None:
        method = r["method"]
        extra["url"] = r["url"]
        if r["proto"]:
            extra["protocol"] = r["proto"]
    elif request:
        extra["malformed_request"] = True
    for key in ("referer", "agent", "vhost"):
        value = _dash(m[key])
        if value is not None:
            extra[key] = value
    if m["bytes"] != "-":
        extra["bytes"] = int(m["bytes"])
    if m["ident"] != "-":
        extra["ident"] = m["ident"]
    dst_port = None
    vhost = m["vhost"]
    if vhost and ":" in vhost:
        port = vhost.rsplit(":", 1)[1]
        dst_port = int(port) if port.isdigit() and int(port) < 65536 else None
    status = m["status"]
    return Event(
        reading,
        offset,
        False,
        NAME,
        "apache:access",
        None,
        None,
        None,
        m["client"],
        None,
        None,
        dst_port,
        None,
        _dash(m["user"]),
        method,
        None if status == "-" else status,
        request,
        extra or None,
        number,
        text,
    )
