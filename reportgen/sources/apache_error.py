"""Apache error logs, 2.0/2.2 and 2.4 styles; mod_ssl's error log is the same family.

One real sample line per variant::

    [Wed Jun 15 04:05:46 2011] [notice] Apache/2.2.3 (CentOS) configured -- resuming normal operations
    [Wed Jun 15 09:59:25 2011] [error] [client 198.51.100.248] sh: fg: no job control
    [Wed Jun 15 22:04:40 2011] [error] Spurious SSL handshake interrupt [Hint: Usually just one of those OpenSSL confusions!?]
    [Wed Jun 15 10:11:12.123456 2011] [core:error] [pid 4242:tid 140] [client 198.51.100.7:51234] AH00126: Invalid URI in request GET /%2e%2e/ HTTP/1.1

What CGI scripts write to stderr lands here under ``[client ...]``, so the
output of commands injected through a web application appears verbatim.

Kinds: ``apache:error`` and, for the server's own life cycle,
``apache:error:started`` (configured -- resuming normal operations),
``apache:error:restart`` (SIGHUP/SIGUSR1), ``apache:error:stopped`` (caught SIGTERM).
Columns: ``src_ip``/``src_port`` (client), ``pid``, ``outcome`` (the level),
``message``. ``extra``: module, version (server banner).
"""

from __future__ import annotations

import re
from typing import Any

from reportgen.clock import text_reading
from reportgen.model import Event, Malformed

NAME = "apache_error"
DESCRIPTION = "Apache error log (2.0/2.2 and 2.4 styles, mod_ssl included)"
SPECIFICITY = 20

LINE = re.compile(
    r"\[(?:[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]\d) (?P<hh>\d\d):(?P<mm>\d\d):"
    r"(?P<ss>\d\d)(?:\.(?P<us>\d{1,6}))? (?P<year>\d{4})\] "
    r"\[(?:(?P<module>[^:\]\s]+):)?(?P<level>[a-z]+\d?)\]"
    r"(?: \[pid (?P<pid>\d{1,9})(?::tid \d+)?\])?"
    r"(?: \[client (?P<client>[^\]\s]+)\])? ?(?P<msg>.*)",
    re.DOTALL,
)
LIFECYCLE = (
    (
        re.compile(r"Apache/(?P<version>\S+).* -- resuming normal operations"),
        "apache:error:started",
    ),
    (re.compile(r"SIG(?:HUP|USR1|WINCH) received"), "apache:error:restart"),
    (re.compile(r"caught SIGTERM, shutting down"), "apache:error:stopped"),
)
_NOT_MINE = "not an error-log line: [weekday month day time year] [level] message"


def _client(text: str | None, style_24: bool) -> tuple[str | None, int | None]:
    """``1.2.3.4`` (2.0/2.2) or ``1.2.3.4:5`` / ``::1:5`` (2.4, port always last)."""
    if text is None:
        return None, None
    if style_24 or text.count(":") == 1:
        host, _, port = text.rpartition(":")
        if host and port.isdigit() and int(port) < 65536:
            return host, int(port)
    return text, None


def parse_line(text: str, number: int) -> Event | str:
    """One error-log line to an event, or the reason it is not one."""
    if not text.startswith("["):
        return _NOT_MINE
    m = LINE.match(text)
    if m is None:
        return _NOT_MINE
    try:
        reading = text_reading(m["year"], m["mon"], m["day"], m["hh"], m["mm"], m["ss"], m["us"])
    except (KeyError, ValueError):
        return Malformed("error-log line with an impossible date or time")
    msg = m["msg"]
    kind = "apache:error"
    extra: dict[str, Any] | None = {"module": m["module"]} if m["module"] else None
    if m["client"] is None:
        for pattern, lifecycle_kind in LIFECYCLE:
            found = pattern.search(msg)
            if found is not None:
                kind = lifecycle_kind
                if found.groupdict().get("version"):
                    extra = {**(extra or {}), "version": found["version"]}
                break
    src_ip, src_port = _client(m["client"], m["module"] is not None or m["pid"] is not None)
    pid = m["pid"]
    return Event(
        reading,
        None,
        False,
        NAME,
        kind,
        None,
        "httpd",
        int(pid) if pid else None,
        src_ip,
        src_port,
        None,
        None,
        None,
        None,
        None,
        m["level"],
        msg,
        extra,
        number,
        text,
    )
