"""Syslog files (RFC 3164, RFC 5424, rsyslog ISO): messages, secure, auth.log, maillog.

One real sample line per variant::

    Jun 15 16:26:09 web1 sshd[8714]: Accepted password for test from 198.51.100.133 port 57019 ssh2
    Jun 17 13:06:36 web1  -- root[17812]: ROOT LOGIN ON tty1
    Jun 13 04:05:02 web1 syslogd 1.4.1: restart.
    <34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick
    2011-06-15T10:11:12.123456+02:00 web1 sshd[411]: Accepted publickey for ops from 10.0.0.5 port 51122 ssh2

Every line with a syslog header becomes an event. The messages of the programs
an incident responder reads first are turned into structured events by the rule
table :data:`RULES` (kind, user, source address, port, method, outcome); the
rest keep kind ``syslog:message`` with program and pid split out. Lines of
formats carried inside syslog (netfilter, Snort) are claimed by their own, more
specific, modules first.

Kinds: ``syslog:sshd:accepted|failed|invalid_user|no_ident|disconnect|listening|stopped``,
``syslog:pam:session_opened|session_closed|auth_failure``, ``syslog:login:root_login|failed``,
``syslog:su:success|failed``, ``syslog:sudo:command|failed``,
``syslog:account:user_added|group_added|user_deleted|user_modified|password_changed``,
``syslog:sendmail:from|to|relay_denied|no_mail|overload``, ``syslog:xinetd:start|exit|started|stopped``,
``syslog:cron:command``, ``syslog:kernel:boot``, ``syslog:kernel:klogd_started``,
``syslog:syslogd:restart|stopped``, ``syslog:service:started|stopped``,
``syslog:system:shutdown``, ``syslog:package:installed|updated|removed``,
``syslog:ntpd:time_reset|synchronized``, ``syslog:repeated``, ``syslog:message``.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from reportgen.model import Event
from reportgen.sources.envelope import read_envelope

NAME = "syslog"
DESCRIPTION = "Syslog files: RFC 3164 (syslogd), RFC 5424 and rsyslog ISO timestamps"
SPECIFICITY = 10


class Rule(NamedTuple):
    """A message pattern: named groups become fields, the rest go to ``extra``."""

    programs: frozenset[str] | None
    pattern: re.Pattern[str]
    kind: str
    outcome: str | None = None


def _rule(programs: str | None, pattern: str, kind: str, outcome: str | None = None) -> Rule:
    progs = frozenset(programs.split()) if programs else None
    return Rule(progs, re.compile(pattern), kind, outcome)


_IP = r"(?P<src_ip>[0-9A-Fa-f:.]+)"
_PORT = r"(?P<src_port>\d{1,5})"

RULES: tuple[Rule, ...] = (
    # sshd
    _rule(
        "sshd",
        rf"Accepted (?P<method>\S+) for (?P<user>.*?) from {_IP} port {_PORT}",
        "syslog:sshd:accepted",
        "success",
    ),
    _rule(
        "sshd",
        rf"Failed (?P<method>\S+) for (?P<invalid>invalid user |illegal user )?"
        rf"(?P<user>.*?) from {_IP} port {_PORT}",
        "syslog:sshd:failed",
        "failure",
    ),
    _rule(
        "sshd",
        rf"(?:Invalid|Illegal) user (?P<user>.*?) from {_IP}(?: port {_PORT})?\s*$",
        "syslog:sshd:invalid_user",
        "failure",
    ),
    _rule("sshd", rf"Did not receive identification string from {_IP}", "syslog:sshd:no_ident"),
    _rule("sshd", rf"scanned from {_IP} with (?P<client>\S+)", "syslog:sshd:no_ident"),
    _rule(
        "sshd",
        rf"(?:Connection closed by|Received disconnect from) {_IP}",
        "syslog:sshd:disconnect",
    ),
    _rule(
        "sshd",
        r"Server listening on (?P<listen>\S+) port (?P<dst_port>\d{1,5})",
        "syslog:sshd:listening",
    ),
    _rule("sshd", r"Received signal (?P<signal>\d+); terminating", "syslog:sshd:stopped"),
    # PAM, whichever program loaded it
    _rule(
        None,
        r"(?:pam_unix\((?P<service>[^)]*)\): )?session opened for user (?P<user>\S+)"
        r"(?: by (?P<by>\S*?)(?:\(uid=(?P<uid>\d+)\))?)?$",
        "syslog:pam:session_opened",
    ),
    _rule(
        None,
        r"(?:pam_unix\((?P<service>[^)]*)\): )?session closed for user (?P<user>\S+)",
        "syslog:pam:session_closed",
    ),
    _rule(
        None,
        r"(?:pam_unix\((?P<service>[^)]*)\): )?authentication failure;.*?"
        r"rhost=(?P<rhost>\S*)(?:\s+user=(?P<user>\S+))?",
        "syslog:pam:auth_failure",
        "failure",
    ),
    # console and su/sudo
    _rule(
        None,
        r"ROOT LOGIN ON (?P<tty>\S+)(?: FROM (?P<src_ip>\S+))?",
        "syslog:login:root_login",
        "success",
    ),
    _rule(
        "login",
        r"FAILED LOGIN \d+ FROM (?P<src_ip>\S+) FOR (?P<user>\S+)",
        "syslog:login:failed",
        "failure",
    ),
    _rule(
        "su",
        r"FAILED SU \(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)",
        "syslog:su:failed",
        "failure",
    ),
    _rule(
        "su",
        r"(?:\(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)|"
        r"Successful su for (?P<target2>\S+) by (?P<user2>\S+))",
        "syslog:su:success",
        "success",
    ),
    _rule(
        "sudo",
        r"\s*(?P<user>\S+) : .*?incorrect password attempts",
        "syslog:sudo:failed",
        "failure",
    ),
    _rule(
        "sudo",
        r"\s*(?P<user>\S+) : (?:TTY=(?P<tty>\S+) ; )?PWD=(?P<pwd>.*?) ; "
        r"USER=(?P<target>\S+) ; COMMAND=(?P<command>.*)",
        "syslog:sudo:command",
        "success",
    ),
    # accounts
    _rule(
        "useradd adduser",
        r"new user: name=(?P<user>[^,]+),(?: UID=(?P<uid>\d+),)?"
        r"(?: GID=(?P<gid>\d+),)?(?: home=(?P<home>[^,]+),)?(?: shell=(?P<shell>\S+))?",
        "syslog:account:user_added",
    ),
    _rule(
        "useradd groupadd adduser",
        r"new group: name=(?P<group>[^,]+)",
        "syslog:account:group_added",
    ),
    _rule("userdel deluser", r"delete user [`'](?P<user>[^'`]+)'", "syslog:account:user_deleted"),
    _rule(
        "usermod",
        r"(?:change|add|lock|unlock).*?[`'](?P<user>[^'`]+)'",
        "syslog:account:user_modified",
    ),
    _rule(
        None,
        r"(?:pam_unix\(passwd:chauthtok\): )?password changed for (?P<user>\S+)",
        "syslog:account:password_changed",
    ),
    # mail
    _rule(
        "sendmail",
        r"\S+: from=(?P<sender>[^,]*),.*?(?:relay=(?P<relay>.*?)"
        r"(?: \[(?P<src_ip>[0-9A-Fa-f:.]+)\])?)?$",
        "syslog:sendmail:from",
    ),
    _rule(
        "sendmail",
        r"\S+: to=(?P<rcpt>[^,]*(?:, [^=,]*)*),.*?stat=(?P<stat>.*)",
        "syslog:sendmail:to",
    ),
    _rule(
        "sendmail",
        r"\S+: ruleset=check_rcpt, arg1=(?P<rcpt>[^,]*),.*?"
        r"\[(?P<src_ip>[0-9A-Fa-f:.]+)\].*?reject=(?P<reject>.*)",
        "syslog:sendmail:relay_denied",
        "failure",
    ),
    _rule(
        "sendmail",
        r"\S+: (?:(?P<rhost>\S+) )?\[(?P<src_ip>[0-9A-Fa-f:.]+)\] did not issue",
        "syslog:sendmail:no_mail",
    ),
    _rule(
        "sendmail",
        r"rejecting connections on daemon \S+: load average: (?P<load>\d+)",
        "syslog:sendmail:overload",
    ),
    # xinetd
    _rule(
        "xinetd",
        r"START: (?P<service>\S+) pid=(?P<child>\d+) from=(?:::ffff:)?(?P<src_ip>\S+)",
        "syslog:xinetd:start",
    ),
    _rule(
        "xinetd",
        r"EXIT: (?P<service>\S+) (?:status=(?P<status>\S+) )?pid=(?P<child>\d+)",
        "syslog:xinetd:exit",
    ),
    _rule("xinetd", r"xinetd Version (?P<version>\S+) started", "syslog:xinetd:started"),
    _rule("xinetd", r"Exiting\.\.\.", "syslog:xinetd:stopped"),
    # cron
    _rule(
        "crond cron CRON CROND",
        r"\((?P<user>[^)]+)\) CMD \((?P<command>.*)\)\s*$",
        "syslog:cron:command",
    ),
    # boot, logging, services
    _rule("kernel", r"Linux version (?P<version>\S+)", "syslog:kernel:boot"),
    _rule("kernel", r"klogd (?P<version>\S+), log source", "syslog:kernel:klogd_started"),
    _rule(
        "syslogd rsyslogd",
        r"(?:\[origin software=\"rsyslogd\".*\] )?(?:restart|start)",
        "syslog:syslogd:restart",
    ),
    _rule("syslogd rsyslogd", r"exiting on signal (?P<signal>\d+)", "syslog:syslogd:stopped"),
    _rule("shutdown", r"shutting down", "syslog:system:shutdown"),
    _rule("init", r"Switching to runlevel: (?P<runlevel>[06])", "syslog:system:shutdown"),
    _rule(None, r"(?P<service>[\w.-]+) startup succeeded", "syslog:service:started", "success"),
    _rule(None, r"(?P<service>[\w.-]+) shutdown succeeded", "syslog:service:stopped", "success"),
    _rule("systemd", r"Started (?P<service>.+?)\.?$", "syslog:service:started", "success"),
    _rule("systemd", r"Stopped (?P<service>.+?)\.?$", "syslog:service:stopped", "success"),
    # software
    _rule("yum dnf", r"Installed: (?P<package>\S+)", "syslog:package:installed"),
    _rule("yum dnf", r"Updated: (?P<package>\S+)", "syslog:package:updated"),
    _rule("yum dnf", r"Erased: (?P<package>\S+)", "syslog:package:removed"),
    # time
    _rule("ntpd", r"time reset (?P<step>[+-]?[\d.]+) s", "syslog:ntpd:time_reset"),
    _rule("ntpd", r"synchronized to (?P<server>\S+?),", "syslog:ntpd:synchronized"),
)

_ANY_PROGRAM = tuple(r for r in RULES if r.programs is None)
_BY_PROGRAM: dict[str, tuple[Rule, ...]] = {}
for _r in RULES:
    for _p in _r.programs or ():
        _BY_PROGRAM[_p] = (*_BY_PROGRAM.get(_p, ()), _r)

_REPEATED = re.compile(r"last message repeated (?P<count>\d+) times?")
# Fields that have columns of their own; every other named group goes to extra.
_COLUMNS = ("user", "src_ip", "src_port", "dst_port", "method")


def _base_program(program: str | None) -> tuple[str | None, str | None]:
    """``"sshd(pam_unix)"`` -> ("sshd", "pam_unix"); ``"-- root"`` -> ("login", None)."""
    if program is None:
        return None, None
    if program.startswith("-- "):
        return "login", None  # login(1) logs root logins with ident "-- root"
    name, sep, module = program.partition("(")
    name = name.rsplit("/", 1)[-1] if "/" in name and not name.startswith("/") else name
    return name, (module.rstrip(")") if sep else None)


def _port(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value if value <= 65535 else None


def _match(program: str | None, message: str) -> tuple[Rule, dict[str, Any]] | None:
    rules = _BY_PROGRAM.get(program or "", ())
    for rule in (*rules, *_ANY_PROGRAM):
        m = rule.pattern.match(message)
        if m is not None:
            return rule, {k: v for k, v in m.groupdict().items() if v}
    return None


def parse_line(text: str, number: int) -> Event | str:
    """One line to an event, or the reason it is not a syslog line."""
    env = read_envelope(text)
    if env is None:
        return "no syslog header (RFC 3164, RFC 5424 or ISO timestamp)"
    program, module = _base_program(env.program)
    message = env.message
    kind = "syslog:message"
    user = src_ip = action = outcome = None
    src_port = dst_port = None
    extra: dict[str, Any] | None = {"pam": module} if module else None
    found = _match(program, message)
    if found is not None:
        rule, fields = found
        kind, outcome = rule.kind, rule.outcome
        user = fields.pop("user", None) or fields.pop("user2", None)
        src_ip = fields.pop("src_ip", None)
        src_port = _port(fields.pop("src_port", None))
        dst_port = _port(fields.pop("dst_port", None))
        action = fields.pop("method", None)
        if "target2" in fields:
            fields["target"] = fields.pop("target2")
        fields.pop("user2", None)
        if fields.get("invalid"):
            fields["invalid"] = True
        if fields:
            extra = {**(extra or {}), **fields}
    elif program is None:
        m = _REPEATED.match(message)
        if m is not None:
            kind = "syslog:repeated"
            extra = {"count": int(m["count"])}
    return Event(
        env.reading,
        env.utc_offset,
        env.year_inferred,
        NAME,
        kind,
        env.host,
        program,
        env.pid,
        src_ip,
        src_port,
        None,
        dst_port,
        None,
        user,
        action,
        outcome,
        message,
        extra,
        number,
        text,
    )
