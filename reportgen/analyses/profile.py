"""The target's profile, read from its own logs: hosts, addresses, OS, web server, services.

Which host is the monitored server and which are sensors is decided from what
they log (a sensor logs mostly firewall or IDS lines). The server's addresses
come from the clocks analysis: the destinations of firewall packets and IDS
alerts matched one-to-one with requests the server logged. Services are the
daemons the server's syslog shows running, mapped to their usual ports
(:data:`SERVICES`), plus the web server seen answering in its own logs.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import duckdb

from reportgen import store
from reportgen.model import Finding

NAME = "profile"
TITLE = "The target"

MIN_ADDRESS_SUPPORT = 2
"""Matched requests needed before an address is counted as the server's."""

# program name in syslog -> (service, ports)
SERVICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "sshd": ("SSH", ("22/tcp",)),
    "httpd": ("HTTP (Apache)", ("80/tcp",)),
    "apache2": ("HTTP (Apache)", ("80/tcp",)),
    "nginx": ("HTTP (nginx)", ("80/tcp",)),
    "sendmail": ("SMTP (sendmail)", ("25/tcp",)),
    "postfix": ("SMTP (postfix)", ("25/tcp",)),
    "exim": ("SMTP (exim)", ("25/tcp",)),
    "named": ("DNS (BIND)", ("53/udp", "53/tcp")),
    "ntpd": ("NTP", ("123/udp",)),
    "portmap": ("RPC portmapper", ("111/tcp", "111/udp")),
    "rpcbind": ("RPC portmapper", ("111/tcp", "111/udp")),
    "rpc.statd": ("RPC statd (NFS locking)", ("111/udp", "rpc")),
    "xinetd": ("xinetd super-server", ("per service",)),
    "ipop3d": ("POP3", ("110/tcp",)),
    "imapd": ("IMAP", ("143/tcp",)),
    "dovecot": ("IMAP/POP3 (dovecot)", ("143/tcp", "110/tcp")),
    "mysqld": ("MySQL", ("3306/tcp",)),
    "squid": ("HTTP proxy (squid)", ("3128/tcp",)),
    "snmpd": ("SNMP", ("161/udp",)),
    "smbd": ("SMB (samba)", ("139/tcp", "445/tcp")),
    "nmbd": ("NetBIOS names (samba)", ("137/udp",)),
    "vsftpd": ("FTP", ("21/tcp",)),
    "proftpd": ("FTP", ("21/tcp",)),
    "ftpd": ("FTP", ("21/tcp",)),
    "cups": ("printing (CUPS)", ("631/tcp",)),
    "cupsd": ("printing (CUPS)", ("631/tcp",)),
    "rsyncd": ("rsync", ("873/tcp",)),
    "spamd": ("spamassassin", ("783/tcp",)),
}
_DISTRO = re.compile(r"\((Red Hat[^)]*|CentOS|Debian[^)]*|Ubuntu|Fedora|SuSE[^)]*|Unix|Win32)\)")


def host_roles(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each host as the analyses see it (a file naming none is its own): server or sensor."""
    return store.host_roles(con, "ev")


def analyze(con: duckdb.DuckDBPyConnection, clocks: Finding) -> Finding:
    """Profile every server host and sensor in the bundle."""
    roles = host_roles(con)
    hosts = []
    for host, role in roles.items():
        if role != "server":
            continue
        addresses = [
            a for a, n in clocks.data["addresses"].get(host, []) if n >= MIN_ADDRESS_SUPPORT
        ]
        hosts.append(
            {
                "host": host,
                "addresses": addresses,
                **_platform(con, host),
                "services": _services(con, host),
            }
        )
    sensors = [
        {"host": h, "logs": _sensor_kinds(con, h)} for h, r in roles.items() if r == "sensor"
    ]
    networks = sorted(
        {
            str(ipaddress.ip_network(f"{a}/24", strict=False))
            for h in hosts
            for a in h["addresses"]
            if ":" not in a
        }
    )
    data = {"servers": hosts, "sensors": sensors, "networks": networks}
    return Finding(NAME, TITLE, _narrative(data), data)


def _platform(con: duckdb.DuckDBPyConnection, host: str) -> dict[str, Any]:
    kernel = con.execute(
        """SELECT extra->>'version', count(*) FROM ev
        WHERE host = ? AND kind = 'syslog:kernel:boot' GROUP BY 1 ORDER BY 2 DESC LIMIT 1""",
        [host],
    ).fetchone()
    banner = con.execute(
        """SELECT message FROM ev WHERE host = ?
        AND kind = 'apache:error:started' ORDER BY ts DESC LIMIT 1""",
        [host],
    ).fetchone()
    web = None
    distro = None
    if banner:
        m = re.search(r"(Apache/\S+)", banner[0])
        web = m.group(1) if m else None
        d = _DISTRO.search(banner[0])
        distro = d.group(1) if d else None
    os_name = "Linux" if kernel else ("Unix-like" if web else None)
    if kernel is None and store.scalar(
        con, "SELECT count(*) FROM ev WHERE host = ? AND source = 'syslog'", [host]
    ):
        os_name = "Unix-like (syslog)"
    return {
        "os": os_name,
        "kernel": kernel[0] if kernel else None,
        "distribution": distro,
        "web_server": web,
        "platform": "linux" if kernel or os_name else "unknown",
    }


def _services(con: duckdb.DuckDBPyConnection, host: str) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for program, n in con.execute(
        """SELECT program, count(*) FROM ev
            WHERE host = ? AND program IS NOT NULL AND source = 'syslog' GROUP BY 1""",
        [host],
    ).fetchall():
        known = SERVICES.get(program)
        if known:
            name, ports = known
            entry = found.setdefault(
                name, {"service": name, "ports": list(ports), "lines": 0, "seen_in": "syslog"}
            )
            entry["lines"] += n
    web = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE outcome LIKE '2%'),
        count(DISTINCT dst_port) FROM ev WHERE host = ? AND kind = 'apache:access'""",
        [host],
    ).fetchone()
    if web and web[0]:
        entry = found.setdefault(
            "HTTP (Apache)",
            {"service": "HTTP (Apache)", "ports": ["80/tcp"], "lines": 0, "seen_in": "access log"},
        )
        entry["lines"] += web[0]
        entry["answered_2xx"] = web[1]
    ssl = con.execute(
        """SELECT count(*) FROM ev WHERE host = ? AND source = 'apache_error'
        AND (message LIKE '%SSL%' OR message LIKE '%certificate%')""",
        [host],
    ).fetchone()
    if ssl and ssl[0]:
        found.setdefault(
            "HTTPS (mod_ssl)",
            {
                "service": "HTTPS (mod_ssl)",
                "ports": ["443/tcp"],
                "lines": ssl[0],
                "seen_in": "error log",
            },
        )
    for (service,) in con.execute(
        """SELECT DISTINCT extra->>'service' FROM ev
            WHERE host = ? AND kind = 'syslog:xinetd:start'""",
        [host],
    ).fetchall():
        if service:
            found.setdefault(
                f"{service} (xinetd)",
                {
                    "service": f"{service} (xinetd)",
                    "ports": [service],
                    "lines": 0,
                    "seen_in": "xinetd",
                },
            )
    return sorted(found.values(), key=lambda s: s["service"])


def _sensor_kinds(con: duckdb.DuckDBPyConnection, host: str) -> dict[str, int]:
    return dict(
        con.execute(
            """SELECT CASE source WHEN 'netfilter' THEN 'firewall'
        WHEN 'snort' THEN 'IDS' ELSE 'other' END, count(*) FROM ev WHERE host = ?
        GROUP BY 1 ORDER BY 1""",
            [host],
        ).fetchall()
    )


def service_ports(profile: Finding) -> set[int]:
    """Numeric ports of the services the servers run."""
    ports: set[int] = set()
    for host in profile.data["servers"]:
        for svc in host["services"]:
            for p in svc["ports"]:
                number = p.split("/")[0]
                if number.isdigit():
                    ports.add(int(number))
    return ports


def server_addresses(profile: Finding) -> set[str]:
    """Every address the servers were seen answering on."""
    return {a for h in profile.data["servers"] for a in h["addresses"]}


def _narrative(data: dict[str, Any]) -> str:
    if not data["servers"]:
        return (
            "No host in the bundle logs like a server (every named host logs mostly "
            "firewall or IDS lines), so the target cannot be profiled from its own logs."
        )
    lines = []
    for h in data["servers"]:
        what = ", ".join(
            x
            for x in (
                h["os"],
                h["kernel"] and f"kernel {h['kernel']}",
                h["distribution"],
                h["web_server"],
            )
            if x
        )
        lines.append(f"**`{h['host']}`** is the monitored server: {what or 'platform unknown'}.")
        if h["addresses"]:
            shown = ", ".join(f"`{a}`" for a in h["addresses"][:12])
            more = f" and {len(h['addresses']) - 12} more" if len(h["addresses"]) > 12 else ""
            lines.append(
                f"It answered on {len(h['addresses'])} address(es): {shown}{more} "
                "(destinations of firewall/IDS records matched one-to-one with requests it "
                "logged)."
            )
        else:
            lines.append("Its network address could not be tied to the sensors' records.")
        if h["services"]:
            lines.append(
                "Services seen running: "
                + ", ".join(f"{s['service']} ({'/'.join(s['ports'])})" for s in h["services"])
                + "."
            )
    for s in data["sensors"]:
        lines.append(
            f"`{s['host']}` is a sensor: "
            + ", ".join(f"{k} ({v:,} lines)" for k, v in s["logs"].items())
            + "."
        )
    return "\n\n".join(lines)
