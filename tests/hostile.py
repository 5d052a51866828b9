"""The hostile corpus: payloads from fixtures/hostile/payloads.txt placed in every
attacker-controllable field of every format, and in file names."""

from __future__ import annotations

import re
from pathlib import Path

PAYLOADS_FILE = Path(__file__).parent / "fixtures" / "hostile" / "payloads.txt"
_ESCAPE = re.compile(r"\\(\\|n|r|t|0)")


def payloads() -> list[str]:
    """The payloads (the file's first line is its header)."""
    lines = PAYLOADS_FILE.read_text(encoding="utf-8").split("\n")[1:]
    table = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "0": "\x00"}
    return [_ESCAPE.sub(lambda m: table[m.group(1)], line) for line in lines if line]


def one_line(text: str) -> str:
    """A payload as it can stand inside one log line."""
    return text.replace("\n", " ").replace("\r", " ")


def visible(text: str) -> bool:
    """Payloads a reader should see verbatim (no control characters to normalize)."""
    return not any(ord(c) < 32 or c in "\u2028\u2029\ufeff" for c in text)


def build(root: Path) -> list[str]:
    """Write the corpus under ``root``; returns the payloads used as login names (shown)."""
    ps = [one_line(p) for p in payloads()]
    www = root / "www"
    www.mkdir(parents=True)
    secure, access, error, fw, ids = [], [], [], [], []
    for i, p in enumerate(ps):
        mm, ss = divmod(i, 60)
        stamp = f"Jun 15 10:{mm:02d}:{ss:02d}"
        for k, net in enumerate(("198.51.100", "203.0.113", "192.0.2")):
            secure.append(
                f"{stamp} www sshd[{1000 + i * 3 + k}]: Accepted password for {p} from "
                f"{net}.{i % 250 + 1} port {40000 + i} ssh2"
            )
        secure.append(
            f"{stamp} www sshd[9]: Failed password for invalid user {p} from 203.0.113.9 port 1 ssh2"
        )
        secure.append(f"{stamp} www sudo: {p} : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND={p}")
        ip = f"203.0.113.{i % 250 + 1}"
        access.append(
            f"{ip} - {p.replace(' ', '_') or '-'} [15/Jun/2011:10:{mm:02d}:{ss:02d} +0000] "
            f'"GET /cgi-bin/app.cgi?q=|id;echo%20{p} HTTP/1.1" 200 10 "{p}" "{p}"'
        )
        error.append(f"[Wed Jun 15 10:{mm:02d}:{ss:02d} 2011] [error] [client {ip}] sh: {p}")
        fw.append(
            f"{stamp} fw kernel: DROP {p} IN=eth0 OUT= SRC={ip} DST=192.0.2.10 LEN=40 TOS=0x00 "
            f"PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=1234 DPT=80 WINDOW=1 RES=0x00 SYN URGP=0"
        )
        ids.append(
            f"{stamp} ids snort: [1:{9000 + i}:1] {p} [Classification: {p}] [Priority: 1]: "
            f"{{TCP}} {ip}:1234 -> 192.0.2.10:80"
        )
    (www / "secure").write_text("\n".join(secure) + "\n", encoding="utf-8")
    (www / "access_log").write_text("\n".join(access) + "\n", encoding="utf-8")
    (www / "error_log").write_text("\n".join(error) + "\n", encoding="utf-8")
    (root / "kern.log").write_text("\n".join(fw) + "\n", encoding="utf-8")
    (root / "snort.log").write_text("\n".join(ids) + "\n", encoding="utf-8")
    names = root / "names"
    names.mkdir()
    for i, p in enumerate(ps[:40]):
        safe = re.sub(r"[/\x00]", "_", p)[:120]
        try:
            (names / f"messages.{safe}").write_text(
                f"Jun 15 11:00:{i % 60:02d} www sshd[1]: Connection closed by 198.51.100.{i + 1}\n",
                encoding="utf-8",
            )
        except OSError:
            continue  # a name the file system refuses
    return ps
