"""Q1, significant events: what happened on the host, benign and malicious, and when.

Each detector below reads the store and proposes events; every event carries the
log lines that prove it. Detection is general: thresholds and vocabularies are
named at the top of this module, and nothing about a particular data set is
written here. Times are given on the event's own clock and, where the clocks
analysis ties that clock to the reference, on the reference clock too.

Kinds (category):

* benign: ``boot``, ``shutdown``, ``service_restart``, ``software_installed``,
  ``web_application_appeared``, ``admin_login``, ``account_change``, ``routine``
  (log rotation, cron jobs: summarized, not listed one by one);
* infrastructure: ``sensor_gap``, ``sensor_restart``, ``firewall_rate_limit``,
  ``time_step``, ``service_overload``;
* malicious: ``intruder_login``, ``web_exploit``, ``command_execution``,
  ``tool_download``, ``c2_channel``, ``outbound_scan``, ``outbound_attack``,
  ``backdoor``, ``privilege_escalation``, ``backdoor_account``.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import duckdb

from reportgen.analyses.clocks import to_reference
from reportgen.analyses.profile import host_roles, server_addresses
from reportgen.model import Evidence, Finding, SignificantEvent

NAME = "timeline"
TITLE = "Q1 · Significant events"

# --- thresholds ---------------------------------------------------------------
SHARED_ACCOUNT_NETWORKS = 3
"""An account that logs in from this many unrelated /16 networks is shared with outsiders."""
BRUTE_FORCE_FAILURES = 5
"""Failed logins from a source before its success that make the success an intrusion."""
BRUTE_FORCE_WINDOW = timedelta(days=1)
LOGIN_SESSION_GAP = timedelta(minutes=30)
"""Logins of one account from one source closer than this are one session."""
EXECUTION_WINDOW = timedelta(minutes=45)
"""Error-log output from a client this long after its request counts as that request's output."""
SCAN_DESTINATIONS = 10
"""Outbound connections to this many hosts on one port within SCAN_WINDOW are a scan."""
SCAN_WINDOW = timedelta(minutes=10)
GAP_MIN = timedelta(minutes=30)
GAP_EXPECTED = 30
"""A sensor gap lasts at least GAP_MIN where at least GAP_EXPECTED records were expected
(a Poisson chance of silence below 1e-13)."""
GAP_MIN_RECORDS = 100
SHUTDOWN_WINDOW = timedelta(minutes=30)
ROUTINE_MIN = 3
"""A periodic event seen this many times at the same hour of day is routine."""
OVERLOAD_LOAD = 20
EVIDENCE_PER_EVENT = 6
C2_PORTS = (6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 7000, 194)
RATE_LIMIT_LABEL = r"(?i)\b(drop|reject|limit)"
BACKDOOR_RESPONSE = re.compile(
    r"(?i)id check returned|uid=\d|command completed|cmd\.exe banner"
    r"|rootkit|backdoor|shell"
)
"""IDS alerts on server replies that mean someone has a shell (not 403/404 replies)."""

# Command injection in a web request, once URL-decoded: a shell metacharacter
# followed by a command an attacker runs first.
INJECTION = re.compile(
    r"(?:[|;`]|\$\(|%0a|\n)\s*(?:echo|id|uname|wget|curl|lynx|fetch|tftp|ftp|cd|ls|cat|rm|"
    r"chmod|perl|python|sh|bash|nc|killall|kill|w|ps|uptime|whoami|mkdir|tar|\./)\b",
    re.IGNORECASE,
)
REMOTE_INCLUDE = re.compile(r"=(?:https?|ftp)://[^&\s]+", re.IGNORECASE)
DOWNLOAD = re.compile(
    r"\b(wget|curl|lynx|fetch|tftp|ftp|links)\b[^;|&`]*?"
    r"(?P<url>(?:(?:https?|ftp)://)?(?P<host>(?:[\w-]+\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?::\d+)?(?P<path>/[^\s;|&`'\"]*)?)",
    re.IGNORECASE,
)
WGET_OUTPUT = re.compile(
    r"--\d\d:\d\d:\d\d--\s+(?P<url>\S+)|`(?P<saved>[^']+)' saved \[(?P<size>\d+)"
    r"|Connecting to (?P<host>[^\s\[]+)\[(?P<ip>[^\]]+)\]:\d+\.\.\. (?P<result>connected|failed)"
    r"|Can't access startfile (?P<lynx>\S+)"
)
APACHE_OWN = re.compile(
    r"^(?:File does not exist|Directory index forbidden|script not found|Premature end of script"
    r"|client sent HTTP/1\.1 request without hostname|attempt to invoke directory|Invalid URI"
    r"|request failed|client denied|malformed header|Options ExecCGI|File name too long"
    r"|Invalid method|Symbolic link not allowed|user .* not found|\(\d+\)|AH\d{5}|mod_|Digest:"
    r"|SSL|Spurious SSL|Re-negotiation|Connection to child|exec of|Cannot map|script '.*' not found"
    r"|Negotiation:|access to .* failed|Request exceeded|Client sent malformed)"
)
INTERPRETER_FAILED = re.compile(r"relocation error|Can't locate .* in @INC|syntax error at")


@dataclass
class Draft:
    """A significant event before ids and reference times are assigned."""

    kind: str
    category: str
    host: str | None
    clock: str
    start: datetime
    summary: str
    confidence: str
    lines: list[tuple[str, int]]
    end: datetime | None = None
    actors: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    count: int = 1
    details: dict[str, Any] = field(default_factory=dict)


class Context:
    """What the detectors share: the store, the clocks, the servers and their addresses."""

    def __init__(self, con: duckdb.DuckDBPyConnection, clocks: Finding, profile: Finding) -> None:
        self.con = con
        self.clocks = clocks
        self.profile = profile
        self.roles = host_roles(con)
        self.servers = [h for h, r in self.roles.items() if r == "server"]
        self.addresses = server_addresses(profile)
        self.clock_of_host = {h: h for h in self.roles}

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query."""
        return self.con.execute(sql, params or []).fetchall()


def _net16(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 16 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _decode(text: str) -> str:
    once = unquote_plus(text)
    return unquote_plus(once) if "%" in once else once


# --- detectors -------------------------------------------------------------------


def detect_logins(ctx: Context) -> list[Draft]:
    """Accepted remote logins: intruders (shared account, after brute force) or administrators."""
    drafts: list[Draft] = []
    logins = ctx.rows("""SELECT host, "user", src_ip, reading, file, line, action FROM ev
        WHERE kind = 'syslog:sshd:accepted' ORDER BY host, "user", src_ip, reading""")
    networks: dict[tuple[str, str], set[str]] = defaultdict(set)
    for host, user, ip, *_ in logins:
        networks[(host, user)].add(_net16(ip))
    failures = {
        (ip): n
        for ip, n in ctx.rows("""SELECT src_ip, count(*) FROM ev
        WHERE kind IN ('syslog:sshd:failed', 'syslog:sshd:invalid_user') GROUP BY 1""")
    }
    sessions: list[list[tuple[Any, ...]]] = []
    for row in logins:
        last = sessions[-1][-1] if sessions else None
        if last and last[:3] == row[:3] and row[3] - last[3] <= LOGIN_SESSION_GAP:
            sessions[-1].append(row)
        else:
            sessions.append([row])
    for session in sessions:
        host, user, ip, start = session[0][:4]
        nets = networks[(host, user)]
        before = ctx.rows(
            """SELECT count(*) FROM ev WHERE src_ip = ? AND host = ?
            AND kind IN ('syslog:sshd:failed', 'syslog:sshd:invalid_user', 'syslog:pam:auth_failure')
            AND reading BETWEEN ? AND ?""",
            [ip, host, start - BRUTE_FORCE_WINDOW, start],
        )[0][0]
        reasons = []
        if len(nets) >= SHARED_ACCOUNT_NETWORKS:
            reasons.append(f"account `{user}` logged in from {len(nets)} unrelated networks")
        if before >= BRUTE_FORCE_FAILURES:
            reasons.append(f"{before} failed logins from {ip} in the day before")
        duration = (session[-1][3] - start).total_seconds()
        lines = [(r[4], r[5]) for r in session]
        if reasons:
            burst = (
                f"{len(session)} logins in {duration:.0f} s: automated"
                if len(session) > 2 and duration < 60
                else f"{len(session)} login(s)"
            )
            drafts.append(
                Draft(
                    "intruder_login",
                    "malicious",
                    host,
                    host,
                    start,
                    f"`{user}` logged in over SSH from {ip} ({burst}); " + "; ".join(reasons),
                    "high",
                    lines,
                    session[-1][3],
                    (ip,),
                    (user,),
                    len(session),
                    {
                        "method": session[0][6],
                        "networks": len(nets),
                        "failures_before": before,
                        "failures_total": failures.get(ip, 0),
                        "vector": "ssh",
                    },
                )
            )
        else:
            drafts.append(
                Draft(
                    "admin_login",
                    "benign",
                    host,
                    host,
                    start,
                    f"`{user}` logged in over SSH from {ip} ({len(session)} login(s)); "
                    "no sign of guessing or sharing",
                    "medium",
                    lines,
                    session[-1][3],
                    (ip,),
                    (user,),
                    len(session),
                    {"method": session[0][6]},
                )
            )
    for host, tty, reading, file, line in ctx.rows("""SELECT host, extra->>'tty', reading, file,
            line FROM ev WHERE kind = 'syslog:login:root_login' AND src_ip IS NULL"""):
        drafts.append(
            Draft(
                "admin_login",
                "benign",
                host,
                host,
                reading,
                f"root logged in on the console ({tty})",
                "high",
                [(file, line)],
                users=("root",),
            )
        )
    return drafts


def _execution_output(
    ctx: Context, ip: str, start: datetime, end: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Error-log lines from ``ip`` that are command output, and interpreter failures."""
    rows = ctx.rows(
        """SELECT reading, file, line, message FROM ev
        WHERE source = 'apache_error' AND src_ip = ? AND reading BETWEEN ? AND ?
        ORDER BY reading, file, line""",
        [ip, start, end + EXECUTION_WINDOW],
    )
    output = [
        r
        for r in rows
        if r[3].strip() and not APACHE_OWN.match(r[3]) and not INTERPRETER_FAILED.search(r[3])
    ]
    failed = [r for r in rows if INTERPRETER_FAILED.search(r[3])]
    return output, failed


def detect_web_attacks(ctx: Context) -> list[Draft]:
    """Command injection and remote file inclusion, split into those that ran and those that did not."""
    # Only requests with a shell metacharacter or a URL in them (raw or encoded) can
    # match; the rest of a web log, which may be millions of lines, stays in the store.
    requests = ctx.rows("""SELECT host, src_ip, reading, file, line, message, outcome,
        extra->>'agent' FROM ev WHERE kind = 'apache:access'
        AND regexp_matches(message, '[|;`]|[$][(]|%7c|%3b|%60|%0a|%24|%25|=(https?|ftp)(:|%3a)', 'i')
        ORDER BY src_ip, reading, line""")
    by_client: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in requests:
        decoded = _decode(row[5])
        if INJECTION.search(decoded) or REMOTE_INCLUDE.search(decoded):
            by_client[row[1]].append((*row, decoded))
    drafts: list[Draft] = []
    for ip, rows in sorted(by_client.items()):
        host = rows[0][0]
        start, end = rows[0][2], rows[-1][2]
        output, failed = _execution_output(ctx, ip, start, end)
        answered = [r for r in rows if (r[6] or "").startswith(("2", "5"))]
        commands = _commands([r[8] for r in rows])
        lines = [(r[3], r[4]) for r in rows]
        agents = sorted({r[7] for r in rows if r[7]})
        if output:
            worked, confidence = "ran: the command output is in the error log", "high"
        elif failed:
            worked, confidence = "reached the script, which failed to run", "low"
        elif answered:
            worked, confidence = "the script answered; no command output was logged", "low"
        else:
            continue  # refused everywhere: noise, counted in Q4
        kind = "web_exploit" if output else "web_attack_unconfirmed"
        drafts.append(
            Draft(
                kind,
                "malicious",
                host,
                host,
                start,
                f"{ip} injected shell commands through a web request ({len(rows)} request(s)); "
                f"the attack {worked}",
                confidence,
                lines[:EVIDENCE_PER_EVENT] + [(r[1], r[2]) for r in output[:EVIDENCE_PER_EVENT]],
                end,
                (ip,),
                (),
                len(rows),
                {
                    "commands": commands,
                    "agents": agents,
                    "executed": bool(output),
                    "output_lines": len(output),
                    "vector": "web",
                    "payload": _payload_signature(rows[0][8]),
                    "script": rows[0][8].split("?", 1)[0].split(" ")[-1]
                    if "?" in rows[0][8]
                    else None,
                },
            )
        )
        if output:
            drafts.append(
                Draft(
                    "command_execution",
                    "malicious",
                    host,
                    host,
                    output[0][0],
                    f"commands injected by {ip} ran on the server: {len(output)} line(s) of their "
                    "output in the error log",
                    "high",
                    [(r[1], r[2]) for r in output[:EVIDENCE_PER_EVENT]],
                    output[-1][0],
                    (ip,),
                    (),
                    len(output),
                    {"sample_output": [r[3] for r in output[:5]], "vector": "web"},
                )
            )
        drafts += _downloads(ctx, host, ip, rows, output)
    return drafts


def _commands(decoded: list[str]) -> list[str]:
    out: list[str] = []
    for text in decoded:
        m = INJECTION.search(text)
        if m is None:
            continue
        body = text[m.start() :].split(" HTTP/")[0]
        for part in re.split(r"[|;`]|\$\(|\n", body):
            part = part.strip().strip("\x00")
            if part and part not in out and not part.startswith("echo "):
                out.append(part)
    return out[:20]


def _payload_signature(decoded: str) -> str:
    """The shape of a payload: the commands with hosts and file names generalized."""
    m = INJECTION.search(decoded)
    body = decoded[m.start() :] if m else decoded
    body = re.sub(r"(?:[\w-]+\.)+[a-z]{2,}|\d+(?:\.\d+){3}", "HOST", body)
    return re.sub(r"\s+", " ", body.split(" HTTP/")[0])[:120]


def _downloads(
    ctx: Context, host: str, ip: str, rows: list[tuple[Any, ...]], output: list[tuple[Any, ...]]
) -> list[Draft]:
    """Tools the attacker fetched: from the injected commands and the fetcher's own output."""
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        injected = INJECTION.search(r[8])
        body = r[8][injected.start() :] if injected else r[8]
        for m in DOWNLOAD.finditer(body.split(" HTTP/")[0]):
            url = m["url"]
            entry = found.setdefault(
                url,
                {
                    "host": m["host"],
                    "tool": m.group(1).lower(),
                    "lines": [],
                    "start": r[2],
                    "result": "attempted",
                },
            )
            entry["lines"].append((r[3], r[4]))
    for r in output:
        w = WGET_OUTPUT.search(r[3])
        if w is None:
            continue
        m = w
        target = m["url"] or m["lynx"]
        for url, entry in found.items():
            if target and (target.endswith(url) or url in target):
                entry["lines"].append((r[1], r[2]))
            if m["host"] and m["host"] == entry["host"]:
                entry["result"] = "connected" if m["result"] == "connected" else entry["result"]
                entry.setdefault("address", m["ip"])
                entry["lines"].append((r[1], r[2]))
            if m["saved"] and url.rstrip("/").endswith(m["saved"]):
                entry["result"] = f"saved ({m['size']} bytes)"
                entry["lines"].append((r[1], r[2]))
    drafts = []
    for url, entry in found.items():
        saved = entry["result"].startswith("saved")
        drafts.append(
            Draft(
                "tool_download",
                "malicious",
                host,
                host,
                entry["start"],
                f"{ip} made the server fetch {url} with {entry['tool']}: {entry['result']}",
                "high" if saved else "medium",
                entry["lines"][:EVIDENCE_PER_EVENT],
                None,
                (ip,),
                (),
                len(entry["lines"]),
                {
                    "url": url,
                    "download_host": entry["host"],
                    "file": url.rsplit("/", 1)[-1],
                    "result": entry["result"],
                    "address": entry.get("address"),
                    "vector": "web",
                },
            )
        )
    return drafts


def _outbound_rows(ctx: Context, where: str) -> list[tuple[Any, ...]]:
    if not ctx.addresses:
        return []
    return ctx.rows(
        f"""SELECT host, src_ip, dst_ip, dst_port, reading, file, line, source, message
        FROM ev WHERE source IN ('netfilter', 'snort') AND src_ip IN (SELECT unnest(?))
        AND {where} ORDER BY reading, file, line""",
        [sorted(ctx.addresses)],
    )


def detect_c2(ctx: Context) -> list[Draft]:
    """Outbound IRC (or IRC seen by the IDS) from the server: a control channel."""
    ports = ", ".join(str(p) for p in C2_PORTS)
    rows = _outbound_rows(ctx, f"(dst_port IN ({ports}) OR message LIKE '%IRC%')")
    inbound_irc = ctx.rows(
        """SELECT host, src_ip, dst_ip, src_port, reading, file, line FROM ev
        WHERE kind = 'snort:alert' AND message LIKE '%IRC%' AND dst_ip IN (SELECT unnest(?))
        ORDER BY reading""",
        [sorted(ctx.addresses) or [""]],
    )
    if not rows and not inbound_irc:
        return []
    servers = sorted({r[2] for r in rows} | {r[1] for r in inbound_irc})
    per_sensor: dict[str, int] = defaultdict(int)
    for r in [*rows, *inbound_irc]:
        per_sensor[r[0]] += 1
    first = min([(r[4], r[0]) for r in rows] + [(r[4], r[0]) for r in inbound_irc])
    last = max([r[4] for r in rows] + [r[4] for r in inbound_irc])
    lines = [(r[5], r[6]) for r in rows[: EVIDENCE_PER_EVENT // 2]] + [
        (r[5], r[6]) for r in inbound_irc[: EVIDENCE_PER_EVENT // 2]
    ]
    seen = ", ".join(f"`{k}` {v:,}" for k, v in sorted(per_sensor.items()))
    return [
        Draft(
            "c2_channel",
            "malicious",
            ctx.servers[0] if ctx.servers else None,
            first[1],
            first[0],
            f"the server talked IRC with {len(servers)} remote server(s): {len(rows):,} outbound "
            f"connection(s) and {len(inbound_irc):,} IRC alert(s) (seen by {seen}): a bot's control "
            "channel",
            "high" if len(rows) + len(inbound_irc) > 3 else "medium",
            lines,
            last,
            tuple(servers[:20]),
            (),
            len(rows) + len(inbound_irc),
            {"irc_servers": servers, "seen_by": dict(per_sensor)},
        )
    ]


def detect_outbound_scans(ctx: Context) -> list[Draft]:
    """The server opening connections to many hosts on one port in a short time."""
    rows = _outbound_rows(ctx, "source = 'netfilter' AND dst_port IS NOT NULL")
    by_port: dict[tuple[str, int], list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        if r[2] not in ctx.addresses:
            by_port[(r[0], r[3])].append(r)
    drafts = []
    for (sensor, port), items in sorted(by_port.items()):
        i = 0
        while i < len(items):
            j = i
            while j + 1 < len(items) and items[j + 1][4] - items[i][4] <= SCAN_WINDOW:
                j += 1
            window = items[i : j + 1]
            targets = sorted({r[2] for r in window})
            if len(targets) >= SCAN_DESTINATIONS:
                drafts.append(
                    Draft(
                        "outbound_scan",
                        "malicious",
                        ctx.servers[0] if ctx.servers else None,
                        sensor,
                        window[0][4],
                        f"the server connected to {len(targets)} hosts on port {port} "
                        f"within {SCAN_WINDOW.seconds // 60} minutes: an outbound scan",
                        "high",
                        [(r[5], r[6]) for r in window[:EVIDENCE_PER_EVENT]],
                        window[-1][4],
                        (),
                        (),
                        len(window),
                        {"port": port, "targets": targets[:50], "sensor": sensor},
                    )
                )
                i = j + 1
            else:
                i += 1
    return drafts


def detect_outbound_attacks(ctx: Context) -> list[Draft]:
    """IDS alerts on traffic the server sent (other than IRC): attacks from the server."""
    if not ctx.addresses:
        return []
    grouped: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for r in ctx.rows(
        """SELECT host, src_ip, dst_ip, dst_port, reading, file, line, source, message
            FROM ev WHERE source = 'snort' AND src_ip IN (SELECT unnest(?))
            AND dst_ip NOT IN (SELECT unnest(?)) AND message NOT LIKE '%IRC%'
            AND message NOT LIKE 'ICMP%'
            AND coalesce(CAST(extra->>'priority' AS INTEGER), 3) <= 2 ORDER BY reading""",
        [sorted(ctx.addresses), sorted(ctx.addresses)],
    ):
        responses = "ATTACK-RESPONSES" in r[8]
        if responses and not BACKDOOR_RESPONSE.search(r[8]):
            continue  # an error page the server sent: not an attack
        grouped[(r[0], r[8])].append(r)
    drafts = []
    for (sensor, signature), items in sorted(grouped.items()):
        responses = BACKDOOR_RESPONSE.search(signature) is not None
        drafts.append(
            Draft(
                "backdoor" if responses else "outbound_attack",
                "malicious",
                ctx.servers[0] if ctx.servers else None,
                sensor,
                items[0][4],
                f"the IDS saw the server send \u201c{signature}\u201d to {len({r[2] for r in items})} "
                f"host(s) ({len(items)} alert(s))",
                "medium",
                [(r[5], r[6]) for r in items[:EVIDENCE_PER_EVENT]],
                items[-1][4],
                tuple(sorted({r[2] for r in items})[:20]),
                (),
                len(items),
                {"signature": signature, "sensor": sensor},
            )
        )
    return drafts


def detect_accounts(ctx: Context) -> list[Draft]:
    """Accounts added, changed, removed; a new UID 0 account is a backdoor."""
    drafts = []
    for host, kind, user, uid, reading, file, line in ctx.rows("""SELECT host, kind, "user",
            extra->>'uid', reading, file, line FROM ev WHERE kind LIKE 'syslog:account:%'
            ORDER BY reading"""):
        action = kind.rsplit(":", 1)[1].replace("_", " ")
        if kind.endswith("user_added") and uid == "0":
            drafts.append(
                Draft(
                    "backdoor_account",
                    "malicious",
                    host,
                    host,
                    reading,
                    f"account `{user}` added with UID 0 (a second root)",
                    "high",
                    [(file, line)],
                    users=(user,),
                )
            )
        else:
            drafts.append(
                Draft(
                    "account_change",
                    "benign",
                    host,
                    host,
                    reading,
                    f"{action}: `{user}`",
                    "medium",
                    [(file, line)],
                    users=(user or "",),
                )
            )
    return drafts


def detect_privilege(ctx: Context, intruders: set[str]) -> list[Draft]:
    """su/sudo to root by accounts that outsiders used."""
    if not intruders:
        return []
    drafts = []
    for host, kind, user, target, reading, file, line in ctx.rows(
        """SELECT host, kind, "user",
            coalesce(extra->>'target', "user"), reading, file, line FROM ev
            WHERE kind IN ('syslog:su:success', 'syslog:sudo:command', 'syslog:pam:session_opened')
            AND (kind <> 'syslog:pam:session_opened' OR extra->>'by' IN (SELECT unnest(?)))
            ORDER BY reading""",
        [sorted(intruders)],
    ):
        by = user if kind != "syslog:pam:session_opened" else None
        if kind == "syslog:pam:session_opened" or by in intruders:
            drafts.append(
                Draft(
                    "privilege_escalation",
                    "malicious",
                    host,
                    host,
                    reading,
                    f"an account outsiders used became `{target}`",
                    "medium",
                    [(file, line)],
                    users=tuple(u for u in (by, target) if u),
                )
            )
    return drafts


def detect_boots(ctx: Context) -> list[Draft]:
    """Boots (clean or abrupt), shutdowns."""
    drafts = []
    for host, reading, version, file, line in ctx.rows("""SELECT host, reading, extra->>'version',
            file, line FROM ev WHERE kind = 'syslog:kernel:boot' ORDER BY reading"""):
        signs = ctx.rows(
            """SELECT reading, file, line, kind FROM ev WHERE host = ?
            AND reading BETWEEN ? AND ? AND kind IN ('syslog:system:shutdown',
            'syslog:syslogd:stopped', 'syslog:service:stopped', 'apache:error:stopped',
            'syslog:sshd:stopped') ORDER BY reading""",
            [host, reading - SHUTDOWN_WINDOW, reading],
        )
        last = ctx.rows(
            """SELECT max(reading) FROM ev WHERE host = ? AND reading < ?""",
            [host, reading - timedelta(seconds=1)],
        )[0][0]
        clean = bool(signs)
        gap = f"; the previous line was {reading - last} earlier" if last else ""
        drafts.append(
            Draft(
                "boot",
                "benign",
                host,
                host,
                reading,
                f"`{host}` booted kernel {version} "
                + ("after a clean shutdown" if clean else f"with no shutdown logged (abrupt){gap}"),
                "high",
                [(file, line)] + [(s[1], s[2]) for s in signs[-3:]],
                details={"kernel": version, "clean": clean},
            )
        )
    return drafts


def detect_services(ctx: Context) -> list[Draft]:
    """Service restarts and web server restarts, apart from those of log rotation."""
    rotation = _rotation_times(ctx)
    drafts = []
    rows = ctx.rows("""SELECT host, kind, coalesce(extra->>'service', 'httpd'), reading, file, line
        FROM ev WHERE kind IN ('syslog:service:stopped', 'syslog:service:started',
        'apache:error:restart', 'apache:error:stopped', 'apache:error:started')
        ORDER BY host, reading, line""")
    used: set[int] = set()
    for i, (host, kind, service, reading, file, line) in enumerate(rows):
        if i in used or not kind.endswith(("stopped", "restart")):
            continue
        if any(abs((reading - t).total_seconds()) < 900 for t in rotation.get(host, [])):
            continue
        lines = [(file, line)]
        for j in range(i + 1, min(i + 6, len(rows))):
            h2, k2, _, r2, f2, l2 = rows[j]
            if h2 == host and k2.endswith("started") and r2 - reading < timedelta(minutes=10):
                lines.append((f2, l2))
                used.add(j)
                break
        drafts.append(
            Draft(
                "service_restart",
                "benign",
                host,
                host,
                reading,
                f"{service} restarted" if len(lines) > 1 else f"{service} stopped",
                "high",
                lines,
                details={"service": service},
            )
        )
    return drafts


def _rotation_times(ctx: Context) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = defaultdict(list)
    for host, reading in ctx.rows("""SELECT host, reading FROM ev
            WHERE kind = 'syslog:syslogd:restart'"""):
        out[host].append(reading)
    return out


def detect_routine(ctx: Context) -> list[Draft]:
    """Periodic housekeeping (log rotation, cron sessions): one summary event each."""
    drafts = []
    groups = ctx.rows(
        """SELECT host, kind, coalesce("user", ''), hour(reading), count(*),
            min(reading), max(reading), list(file ORDER BY reading)[1:3],
            list(line ORDER BY reading)[1:3]
        FROM ev WHERE kind IN ('syslog:syslogd:restart', 'syslog:pam:session_opened',
            'syslog:cron:command', 'apache:error:restart')
        GROUP BY ALL HAVING count(*) >= ? ORDER BY 1, 2""",
        [ROUTINE_MIN],
    )
    for host, kind, user, hour, n, first, last, files, lines in groups:
        if kind == "syslog:pam:session_opened":
            opener = ctx.rows(
                """SELECT count(DISTINCT extra->>'uid') FILTER (WHERE extra->>'uid' <> '0'),
                count(DISTINCT program) FROM ev WHERE kind = 'syslog:pam:session_opened'
                AND host = ? AND "user" = ? AND hour(reading) = ?""",
                [host, user, hour],
            )[0]
            if opener[0]:
                continue  # sessions opened by users, not by cron
        what = {
            "syslog:syslogd:restart": "log rotation (syslogd restarted)",
            "syslog:pam:session_opened": f"scheduled job as `{user}`",
            "syslog:cron:command": f"cron job of `{user}`",
            "apache:error:restart": "web server reloaded (log rotation)",
        }[kind]
        drafts.append(
            Draft(
                "routine",
                "benign",
                host,
                host,
                first,
                f"{what}: {n} times around {hour:02d}:00, {first:%Y-%m-%d} to {last:%Y-%m-%d}",
                "high",
                list(zip(files, lines, strict=True)),
                last,
                (),
                (user,) if user else (),
                n,
                {"hour": hour},
            )
        )
    return drafts


def detect_software(ctx: Context) -> list[Draft]:
    """Packages installed, and web applications that begin answering where they answered 404."""
    drafts = []
    for host, kind, package, reading, file, line in ctx.rows("""SELECT host, kind,
            extra->>'package', reading, file, line FROM ev WHERE kind LIKE 'syslog:package:%'
            ORDER BY reading"""):
        drafts.append(
            Draft(
                "software_installed",
                "benign",
                host,
                host,
                reading,
                f"package {kind.rsplit(':', 1)[1]}: {package}",
                "high",
                [(file, line)],
            )
        )
    for host, path, first_ok, last_miss, f1, l1, f2, l2 in ctx.rows("""
        WITH r AS (SELECT host, regexp_replace(split_part(extra->>'url', '?', 1), '/+', '/', 'g') AS path,
                          outcome, reading, file, line FROM ev WHERE kind = 'apache:access'
                   AND extra->>'url' IS NOT NULL),
             ok AS (SELECT host, path, min(reading) AS first_ok FROM r WHERE outcome LIKE '2%'
                    GROUP BY ALL),
             miss AS (SELECT r.host, r.path, max(r.reading) AS last_miss FROM r JOIN ok USING (host, path)
                      WHERE outcome = '404' AND r.reading < ok.first_ok GROUP BY ALL)
        SELECT ok.host, ok.path, ok.first_ok, miss.last_miss,
               (SELECT file FROM r WHERE r.path = ok.path AND r.reading = ok.first_ok LIMIT 1),
               (SELECT line FROM r WHERE r.path = ok.path AND r.reading = ok.first_ok LIMIT 1),
               (SELECT file FROM r WHERE r.path = ok.path AND r.reading = miss.last_miss LIMIT 1),
               (SELECT line FROM r WHERE r.path = ok.path AND r.reading = miss.last_miss LIMIT 1)
        FROM ok JOIN miss USING (host, path) WHERE ok.path <> '/' ORDER BY ok.first_ok"""):
        drafts.append(
            Draft(
                "web_application_appeared",
                "benign",
                host,
                host,
                last_miss,
                f"{path} answered 404 until {last_miss:%Y-%m-%d %H:%M} and 2xx from "
                f"{first_ok:%Y-%m-%d %H:%M}: it was installed in between",
                "medium",
                [(f2, l2), (f1, l1)],
                first_ok,
                details={"path": path},
            )
        )
    return drafts


def _expected_alerts(
    ctx: Context, ids_host: str, gaps: list[tuple[datetime, datetime]]
) -> list[float]:
    """IDS alerts expected in each gap from the firewall's traffic meanwhile, using each
    destination port's usual ratio of IDS alerts to firewall packets."""
    if not gaps:
        return []
    rows = dict(
        ctx.rows(
            """
        WITH ids AS (SELECT lower(proto) AS proto, dst_port, count(*) AS n FROM ev
                     WHERE host = ? AND source = 'snort' GROUP BY ALL),
             fw AS (SELECT lower(proto) AS proto, dst_port, reading FROM ev WHERE source = 'netfilter'),
             share AS (SELECT proto, dst_port, least(coalesce(any_value(ids.n), 0) / count(*), 1.0) AS r
                       FROM fw LEFT JOIN ids USING (proto, dst_port) GROUP BY ALL),
             gaps AS (SELECT unnest(?) AS a, unnest(?) AS b)
        SELECT gaps.a, sum(share.r) FROM gaps JOIN fw ON fw.reading > gaps.a AND fw.reading < gaps.b
        JOIN share USING (proto, dst_port) GROUP BY gaps.a""",
            [ids_host, [a for a, _ in gaps], [b for _, b in gaps]],
        )
    )
    return [float(rows.get(a) or 0.0) for a, _ in gaps]


def detect_sensors(ctx: Context) -> list[Draft]:
    """Gaps in a sensor's stream, sensor logging restarts, firewall rate-limit drops.

    An IDS gap is judged against the firewall: how many alerts the firewall's
    traffic during the gap would normally have raised. Without a second sensor, a
    gap is judged against the sensor's own average rate.
    """
    drafts = []
    has_firewall = bool(ctx.rows("SELECT 1 FROM ev WHERE source = 'netfilter' LIMIT 1"))
    for host, role in ctx.roles.items():
        if role != "sensor":
            continue
        # Gaps are found in SQL: a sensor's stream can be tens of millions of lines.
        count, first, last = ctx.rows(
            """SELECT count(*), min(reading), max(reading) FROM ev
            WHERE host = ? AND source IN ('netfilter', 'snort')""",
            [host],
        )[0]
        if count < GAP_MIN_RECORDS:
            continue
        is_ids = bool(
            ctx.rows("SELECT 1 FROM ev WHERE host = ? AND source = 'snort' LIMIT 1", [host])
        )
        rate = count / max((last - first).total_seconds(), 1.0)
        gaps = [
            (a, b)
            for a, b in ctx.rows(
                # Per-minute buckets first: a gap of GAP_MIN (more than a minute) lies
                # between two buckets, and the window then runs over thousands of
                # buckets rather than over every record (which it would hold in memory).
                f"""WITH buckets AS (
                SELECT min(reading) AS lo, max(reading) AS hi FROM ev
                WHERE host = ? AND source IN ('netfilter', 'snort')
                GROUP BY time_bucket(INTERVAL 1 MINUTE, reading))
            SELECT reading, next FROM (
                SELECT hi AS reading, lead(lo) OVER (ORDER BY lo) AS next FROM buckets)
            WHERE next - reading >= INTERVAL {int(GAP_MIN.total_seconds())} SECOND
            ORDER BY reading""",
                [host],
            )
        ]
        if is_ids and has_firewall:
            expected_list = _expected_alerts(ctx, host, gaps)
            basis = "the firewall's traffic meanwhile would normally have raised"
        else:
            expected_list = [rate * (b - a).total_seconds() for a, b in gaps]
            basis = "its average rate predicts"
        for (a, b), expected in zip(gaps, expected_list, strict=True):
            if expected < GAP_EXPECTED:
                continue
            gap = b - a
            ev = ctx.rows(
                """SELECT file, line FROM ev WHERE host = ? AND reading IN (?, ?)
                AND source IN ('netfilter', 'snort') ORDER BY reading LIMIT 2""",
                [host, a, b],
            )
            drafts.append(
                Draft(
                    "sensor_gap",
                    "infrastructure",
                    host,
                    host,
                    a,
                    f"`{host}` logged nothing for {gap} where {basis} about {expected:,.0f} "
                    "records: an outage or a blind spot",
                    "high" if expected >= 5 * GAP_EXPECTED else "medium",
                    [tuple(e) for e in ev],
                    b,
                    details={"seconds": gap.total_seconds(), "expected": round(expected)},
                )
            )
        for reading, file, line, message in ctx.rows(
            """SELECT reading, file, line, message
                FROM ev WHERE host = ? AND source = 'syslog' AND (message LIKE '%terminating%'
                OR message LIKE '%logging (proc) stopped%' OR kind = 'syslog:kernel:boot')
                ORDER BY reading LIMIT 20""",
            [host],
        ):
            drafts.append(
                Draft(
                    "sensor_restart",
                    "infrastructure",
                    host,
                    host,
                    reading,
                    f"`{host}`: {message}",
                    "high",
                    [(file, line)],
                )
            )
    for host, label, n, first, last, files, lines, outbound in ctx.rows(
        """SELECT host, action,
            count(*), min(reading), max(reading), list(file ORDER BY reading)[1:3],
            list(line ORDER BY reading)[1:3], count(*) FILTER (WHERE src_ip IN (SELECT unnest(?)))
            FROM ev WHERE kind = 'netfilter:packet' AND regexp_matches(action, ?)
            GROUP BY ALL ORDER BY 4""",
        [sorted(ctx.addresses) or [""], RATE_LIMIT_LABEL],
    ):
        drafts.append(
            Draft(
                "firewall_rate_limit",
                "infrastructure",
                host,
                host,
                first,
                f"firewall rule \u201c{label}\u201d dropped {n} packet(s), {outbound} of them sent by "
                "the server",
                "high",
                list(zip(files, lines, strict=True)),
                last,
                (),
                (),
                n,
                {"label": label, "from_server": outbound},
            )
        )
    return drafts


def detect_misc(ctx: Context) -> list[Draft]:
    """Clock steps and overloaded services."""
    drafts = []
    for host, step, reading, file, line in ctx.rows("""SELECT host, extra->>'step', reading, file,
            line FROM ev WHERE kind = 'syslog:ntpd:time_reset' ORDER BY reading"""):
        drafts.append(
            Draft(
                "time_step",
                "infrastructure",
                host,
                host,
                reading,
                f"ntpd stepped `{host}`'s clock by {step} s",
                "high",
                [(file, line)],
            )
        )
    for host, n, first, last, peak, files, lines in ctx.rows(
        """SELECT host, count(*), min(reading),
            max(reading), max(CAST(extra->>'load' AS INTEGER)), list(file ORDER BY reading)[1:3],
            list(line ORDER BY reading)[1:3] FROM ev WHERE kind = 'syslog:sendmail:overload'
            AND CAST(extra->>'load' AS INTEGER) >= ? GROUP BY host""",
        [OVERLOAD_LOAD],
    ):
        drafts.append(
            Draft(
                "service_overload",
                "infrastructure",
                host,
                host,
                first,
                f"the mail server refused connections {n} times for load averages "
                f"up to {peak}: something kept the machine very busy",
                "medium",
                list(zip(files, lines, strict=True)),
                last,
                (),
                (),
                n,
                {"peak": peak},
            )
        )
    return drafts


# --- assembly -----------------------------------------------------------------------


def _cited(refs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return list(dict.fromkeys((f, int(n)) for f, n in refs))[: EVIDENCE_PER_EVENT * 2]


def _evidence(ctx: Context, drafts: list[Draft]) -> dict[tuple[str, int], Evidence]:
    """Every cited line, fetched with its raw text in one query."""
    keys = sorted({k for d in drafts for k in _cited(d.lines)})
    if not keys:
        return {}
    rows = ctx.rows(
        """SELECT e.file, e.line, e.source, coalesce(e.host, 'file ' || s.rotation_set),
        strftime(e.reading, '%Y-%m-%dT%H:%M:%S'), e.raw
        FROM events e JOIN sources s USING (file_id)
        JOIN (SELECT unnest(?) AS file, unnest(?) AS line) k ON e.file = k.file AND e.line = k.line""",
        [[f for f, _ in keys], [n for _, n in keys]],
    )
    return {(r[0], r[1]): Evidence(*r) for r in rows}


def analyze(con: duckdb.DuckDBPyConnection, clocks: Finding, profile: Finding) -> Finding:
    """Run every detector and order the events on the reference clock."""
    ctx = Context(con, clocks, profile)
    drafts = (
        detect_logins(ctx)
        + detect_web_attacks(ctx)
        + detect_c2(ctx)
        + detect_outbound_scans(ctx)
        + detect_outbound_attacks(ctx)
        + detect_accounts(ctx)
        + detect_boots(ctx)
        + detect_services(ctx)
        + detect_routine(ctx)
        + detect_software(ctx)
        + detect_sensors(ctx)
        + detect_misc(ctx)
    )
    intruders = {u for d in drafts if d.kind == "intruder_login" for u in d.users}
    drafts += detect_privilege(ctx, intruders)
    offsets = clocks.data["offsets"]

    def ref(d: Draft) -> datetime | None:
        return to_reference(offsets, d.clock, d.start)

    drafts.sort(key=lambda d: (ref(d) or d.start, d.kind, d.summary))
    cited = _evidence(ctx, drafts)
    events = []
    for i, d in enumerate(drafts, 1):
        r = ref(d)
        events.append(
            SignificantEvent(
                id=f"E{i}",
                kind=d.kind,
                category=d.category,
                host=d.host,
                clock=d.clock,
                reading=d.start.isoformat(),
                reference=r.isoformat() if r else None,
                end_reading=d.end.isoformat() if d.end else None,
                actors=d.actors,
                users=d.users,
                summary=d.summary,
                confidence=d.confidence,
                count=d.count,
                evidence=tuple(cited[k] for k in _cited(d.lines) if k in cited),
                details=d.details,
            )
        )
    data = {
        "events": events,
        "reference": clocks.data["reference"],
        "counts": {
            c: sum(1 for e in events if e.category == c)
            for c in ("malicious", "benign", "infrastructure")
        },
    }
    return Finding(NAME, TITLE, _narrative(events, clocks.data["reference"]), data)


def _narrative(events: list[SignificantEvent], reference: str | None) -> str:
    if not events:
        return "No significant event was found in the logs."
    mal = [e for e in events if e.category == "malicious"]
    ben = [e for e in events if e.category == "benign"]
    inf = [e for e in events if e.category == "infrastructure"]
    lines = [
        f"{len(events)} significant events: **{len(mal)} malicious**, {len(ben)} benign and "
        f"{len(inf)} about the monitoring itself. Times are on the reference clock "
        f"(`{reference}`) where the clocks could be tied, else on the event's own clock."
    ]
    for e in events:
        if e.category == "malicious" or e.kind in (
            "boot",
            "web_application_appeared",
            "sensor_gap",
        ):
            when = (e.reference or e.reading)[:19].replace("T", " ")
            clock = reference if e.reference else e.clock
            lines.append(f"- **[{e.id}]** {when} ({clock}): {e.summary}.")
    return "\n".join(lines[:60])
