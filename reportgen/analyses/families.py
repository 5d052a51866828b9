"""The families of Internet noise, as data: one readable table, no logic elsewhere.

Each family says how to recognize it in each source (IDS signature text, firewall
protocol and destination ports, web request text, syslog kinds), which platform
it targets, and which service it needs to do harm. The first family that
matches a record wins, so specific families come before generic ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One kind of Internet noise."""

    key: str
    name: str
    platform: str
    """``windows``, ``unix`` or ``any``: what the attack or probe can harm."""
    ports: tuple[str, ...] = ()
    """``tcp/135``, ``udp/1026-1029``: destination ports in firewall logs."""
    ids: str | None = None
    """Regular expression on the IDS alert message."""
    web: str | None = None
    """Regular expression on the web request line."""
    syslog: tuple[str, ...] = ()
    """Event kinds (``LIKE`` patterns) in the target's own syslog."""
    harmless: bool = False
    """Not an attack at all (replies to someone else's traffic, pings)."""
    needs: str = ""
    """What it needs on the target to matter, for the report."""


FAMILIES: tuple[Family, ...] = (
    Family(
        "mssql",
        "MS-SQL worms and probes (Slammer)",
        "windows",
        ("udp/1434", "tcp/1433"),
        ids=r"MS-SQL",
        needs="Microsoft SQL Server",
    ),
    Family(
        "win-rpc",
        "Windows RPC/DCOM worms (Blaster, Welchia)",
        "windows",
        ("tcp/135", "udp/135", "tcp/593", "tcp/4444"),
        ids=r"DCERPC|DCOM|ISystemActivator|RPC .*Windows",
        needs="Windows RPC service",
    ),
    Family(
        "win-smb",
        "Windows SMB/NetBIOS worms and share scans (Sasser, Agobot)",
        "windows",
        ("tcp/139", "tcp/445", "udp/137", "udp/138"),
        ids=r"NETBIOS|SMB",
        needs="Windows file sharing",
    ),
    Family(
        "messenger",
        "Windows Messenger service spam",
        "windows",
        ("udp/1026-1029",),
        ids=r"[Mm]essenger",
        needs="Windows Messenger service",
    ),
    Family(
        "iis",
        "IIS, FrontPage and WebDAV attacks (Code Red, Nimda)",
        "windows",
        (),
        ids=r"WEB-IIS|WEB-FRONTPAGE|WEBDAV|\.ida|\.printer",
        web=r"(?i)_vti_bin|_vti_inf|/scripts/|/msadc/|/_mem_bin/|cmd\.exe|root\.exe|\.ida\b"
        r"|\.idq\b|\.printer\b|/winnt/|/iisadmpwd|nsiislog\.dll|owssvr\.dll|^SEARCH |^PROPFIND ",
        needs="Microsoft IIS",
    ),
    Family(
        "proxy",
        "Open-proxy probes (CONNECT, absolute URLs, proxy ports)",
        "any",
        ("tcp/3128", "tcp/8080", "tcp/1080", "tcp/6588", "tcp/8000", "tcp/8888"),
        ids=r"PROXY|SOCKS|[Pp]roxy",
        web=r"^CONNECT |^(?:GET|POST|HEAD) (?:https?|ftp)://",
        needs="a proxy that relays",
    ),
    Family(
        "web-unix",
        "Exploits and scans for Unix web applications",
        "unix",
        (),
        ids=r"WEB-CGI|WEB-PHP|WEB-MISC|WEB-ATTACKS|WEB-CLIENT|http_inspect",
        web=r"(?i)/cgi-bin/|\.pl\b|\.cgi\b|\.php|awstats|xmlrpc|formmail|/etc/passwd|\.\./"
        r"|[;|`]\s*(?:id|uname|wget|curl|cd)\b|%7c|%3b",
        needs="a web server running the targeted application",
    ),
    Family(
        "web", "Other web requests and scans", "any", ("tcp/80", "tcp/443"), needs="a web server"
    ),
    Family(
        "irc",
        "IRC chat traffic (bots and their control channels)",
        "any",
        ("tcp/6660-6669", "tcp/7000"),
        ids=r"\bIRC\b",
        needs="an IRC client or bot on the target; see the significant events",
    ),
    Family(
        "ssh",
        "SSH password guessing and scanning",
        "any",
        ("tcp/22",),
        ids=r"\bSSH\b",
        syslog=(
            "syslog:sshd:failed",
            "syslog:sshd:invalid_user",
            "syslog:sshd:no_ident",
            "syslog:pam:auth_failure",
        ),
        needs="an SSH server with guessable passwords",
    ),
    Family(
        "smtp",
        "SMTP relay probes and spam",
        "any",
        ("tcp/25",),
        ids=r"\bSMTP\b",
        syslog=("syslog:sendmail:relay_denied", "syslog:sendmail:no_mail"),
        needs="a mail server that relays",
    ),
    Family(
        "rpc-unix",
        "Unix RPC attacks (portmapper, statd, mountd)",
        "unix",
        ("tcp/111", "udp/111"),
        ids=r"RPC (?:portmap|mountd|statd|sadmind)|portmap",
        needs="RPC services (portmapper, rpc.statd)",
    ),
    Family(
        "backdoors",
        "Probes for backdoors and trojans (MyDoom, Bagle, Dameware, Radmin)",
        "windows",
        (
            "tcp/2745",
            "tcp/3127",
            "tcp/5554",
            "tcp/6129",
            "tcp/9898",
            "tcp/4899",
            "tcp/10080",
            "tcp/17300",
            "tcp/27374",
            "tcp/12345",
            "tcp/31337",
            "tcp/1025",
        ),
        ids=r"BACKDOOR|TROJAN|MyDoom|Bagle|DameWare|Radmin",
        needs="an installed backdoor",
    ),
    Family(
        "remote",
        "Remote access and database probes (RDP, VNC, telnet, FTP, MySQL)",
        "any",
        ("tcp/3389", "tcp/5900", "tcp/23", "tcp/21", "tcp/3306", "tcp/5432", "tcp/1521"),
        ids=r"TELNET|FTP|MYSQL|VNC|RDP",
        needs="the probed service",
    ),
    Family(
        "scan",
        "Port scans",
        "any",
        (),
        ids=r"portscan|Spade|\bSCAN\b|STEALTH|NULL scan|XMAS|SYN FIN",
        needs="nothing: reconnaissance that may precede an attack",
    ),
    Family(
        "backscatter",
        "Backscatter and stray replies (ACK/RST, ICMP errors)",
        "any",
        (),
        ids=r"EVASIVE RST|Destination Unreachable|Time-To-Live|Echo Reply|spp_stream4",
        harmless=True,
        needs="nothing: replies to traffic forged in the target's name",
    ),
    Family(
        "icmp",
        "ICMP pings and sweeps",
        "any",
        (),
        ids=r"^ICMP",
        harmless=True,
        needs="nothing: reachability checks",
    ),
    Family("other", "Other", "any", ()),
)

BY_KEY = {f.key: f for f in FAMILIES}
