"""Q2, compromise: was the host compromised, how, how often, by whom, and on what evidence?

A compromise starts with a successful entry found by the timeline: commands
injected through the web that demonstrably ran, or a login by an outsider.
Attacker addresses are grouped into actors where the evidence links them (same
download host, same payload and client software, same shared account), and the
reason for each link is kept. Later malicious events (downloads, control
channels, scans, root shells) are chained to the compromise they follow. The
evidence is ranked by how hard it is to explain away (:data:`EVIDENCE_RANK`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from reportgen.model import Finding, SignificantEvent

NAME = "compromise"
TITLE = "Q2 · Was the host compromised?"

SAME_INCIDENT = timedelta(hours=24)
"""Entries by one actor through one vector this close together are one compromise."""
FOLLOW_ON = timedelta(hours=48)
"""Malicious events this long after an entry (and before the next) are chained to it."""
C2_AFTER_DOWNLOAD = timedelta(hours=1)

ENTRY_KINDS = ("web_exploit", "intruder_login")
FOLLOW_KINDS = (
    "tool_download",
    "command_execution",
    "c2_channel",
    "outbound_scan",
    "outbound_attack",
    "backdoor",
    "privilege_escalation",
    "backdoor_account",
)

EVIDENCE_RANK: tuple[tuple[str, int, str], ...] = (
    (
        "c2_channel",
        6,
        "sensors the attacker does not control saw the server itself open a "
        "control channel right after the attacker's download: code was running",
    ),
    ("backdoor", 5, "the IDS saw the server answer with a root or user id: a shell was open"),
    (
        "command_execution",
        4,
        "the server's own error log holds the output of the attacker's "
        "commands, which only running them can produce",
    ),
    ("tool_download", 4, "the fetcher's own output shows the attacker's file arriving"),
    ("outbound_scan", 3, "the server scanned other hosts, which it was never set up to do"),
    (
        "intruder_login",
        2,
        "outsiders logged in with a valid password, but nothing shows what they did",
    ),
    ("web_exploit", 2, "the attack request reached a vulnerable script"),
)


class _Groups:
    """Union-find over attacker addresses, remembering why two were joined."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.reasons: dict[str, set[str]] = defaultdict(set)

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, items: list[str], reason: str) -> None:
        if not items:
            return
        root = self.find(items[0])
        for other in items[1:]:
            r = self.find(other)
            if r != root:
                self.parent[r] = root
        if len(set(items)) > 1:
            self.reasons[self.find(root)].add(reason)


def _time(e: SignificantEvent) -> datetime:
    return datetime.fromisoformat(e.reference or e.reading)


def analyze(timeline: Finding) -> Finding:
    """Group entries into compromises and actors, chain what followed, rank the evidence."""
    events: list[SignificantEvent] = timeline.data["events"]
    entries = [e for e in events if e.kind in ENTRY_KINDS]
    groups = _Groups()
    for e in entries:
        for a in e.actors:
            groups.find(a)
    by_host: dict[str, list[str]] = defaultdict(list)
    by_payload: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_account: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.kind == "tool_download" and e.details.get("download_host"):
            by_host[e.details["download_host"]].extend(e.actors)
        if e.kind in ("web_exploit", "web_attack_unconfirmed") and e.details.get("payload"):
            agent = "|".join(e.details.get("agents", []))
            by_payload[(e.details["payload"], agent)].extend(e.actors)
        if e.kind == "intruder_login":
            for u in e.users:
                by_account[u].extend(e.actors)
    for host, ips in sorted(by_host.items()):
        groups.join(sorted(set(ips)), f"made the server download from the same host ({host})")
    for _, ips in sorted(by_payload.items()):
        groups.join(sorted(set(ips)), "sent the same payload with the same client software")
    for account, ips in sorted(by_account.items()):
        groups.join(
            sorted(set(ips)),
            f"logged in to the same account `{account}` with its password "
            "(they may be several people who guessed or traded it)",
        )

    actor_of: dict[str, str] = {}
    members: dict[str, list[str]] = defaultdict(list)
    for ip in sorted(groups.parent):
        members[groups.find(ip)].append(ip)
    actors = []
    for i, (root, ips) in enumerate(sorted(members.items(), key=lambda kv: kv[1][0]), 1):
        aid = f"A{i}"
        for ip in ips:
            actor_of[ip] = aid
        actors.append(
            {"id": aid, "addresses": ips, "linked_because": sorted(groups.reasons.get(root, set()))}
        )

    compromises = _compromises(entries, actor_of)
    _chain(compromises, events, actor_of)
    for c in compromises:
        c["confidence"] = (
            "high"
            if any(k in c["chain_kinds"] for k in ("command_execution", "c2_channel", "backdoor"))
            or c["vector"] == "ssh"
            else "medium"
        )
    ranked = _rank(events)
    confirmed = [c for c in compromises if c["confidence"] == "high"]
    verdict = (
        "compromised"
        if confirmed
        else "probably compromised"
        if compromises
        else "no compromise found"
    )
    involved = sorted({c["actor"] for c in compromises})
    data = {
        "verdict": verdict,
        "compromises": compromises,
        "actors": [a for a in actors if a["id"] in involved],
        "count": len(compromises),
        "actor_count": len(involved),
        "ranked_evidence": ranked,
        "unattributed": [
            e.id
            for e in events
            if e.kind in FOLLOW_KINDS and not any(e.id in c["chain"] for c in compromises)
        ],
        "most_compelling": ranked[0] if ranked else None,
    }
    return Finding(NAME, TITLE, _narrative(data), data)


def _compromises(entries: list[SignificantEvent], actor_of: dict[str, str]) -> list[dict[str, Any]]:
    clusters: dict[tuple[str, str], list[list[SignificantEvent]]] = defaultdict(list)
    for e in sorted(entries, key=_time):
        vector = e.details.get("vector", e.kind)
        actor = actor_of.get(e.actors[0], "A?") if e.actors else "A?"
        runs = clusters[(actor, vector)]
        shared = vector == "ssh" and e.details.get("networks", 0) >= 3
        if runs and (shared or _time(e) - _time(runs[-1][-1]) <= SAME_INCIDENT):
            runs[-1].append(e)
        else:
            runs.append([e])
    out = []
    for (actor, vector), runs in clusters.items():
        for run in runs:
            first, last = run[0], run[-1]
            addresses = sorted({a for e in run for a in e.actors})
            users = sorted({u for e in run for u in e.users})
            how = {
                "web": "commands injected through a web application",
                "ssh": "remote login with a valid password",
            }.get(vector, vector)
            out.append(
                {
                    "actor": actor,
                    "vector": vector,
                    "how": how,
                    "start": first.reference or first.reading,
                    "start_clock": "reference" if first.reference else first.clock,
                    "end": last.reference or last.reading,
                    "addresses": addresses,
                    "users": users,
                    "entries": [e.id for e in run],
                    "occasions": len(run),
                    "host": first.host,
                    "chain": [e.id for e in run],
                    "chain_kinds": [e.kind for e in run],
                }
            )
    out.sort(key=lambda c: str(c["start"]))
    for i, c in enumerate(out, 1):
        c["id"] = f"C{i}"
    return out


def _chain(
    compromises: list[dict[str, Any]], events: list[SignificantEvent], actor_of: dict[str, str]
) -> None:
    """Attach follow-on events: to the attacker's own compromise when the event names it,
    else to the compromise with the latest entry in the FOLLOW_ON window before the event."""
    by_id = {e.id: e for e in events}
    entries = [(c, [_time(by_id[x]) for x in c["entries"]]) for c in compromises]
    for e in events:
        if e.kind not in FOLLOW_KINDS:
            continue
        t = _time(e)
        own = [
            c
            for c, times in entries
            if any(actor_of.get(a) == c["actor"] for a in e.actors)
            and any(s - timedelta(minutes=5) <= t for s in times)
        ]
        recent = [
            (max(s for s in times if s <= t), c)
            for c, times in entries
            if any(timedelta(0) <= t - s <= FOLLOW_ON for s in times)
        ]
        owner = own[-1] if own else (max(recent, key=lambda x: x[0])[1] if recent else None)
        if owner is not None and e.id not in owner["chain"]:
            owner["chain"].append(e.id)
            owner["chain_kinds"].append(e.kind)


def _rank(events: list[SignificantEvent]) -> list[dict[str, Any]]:
    rank = {k: (score, why) for k, score, why in EVIDENCE_RANK}
    downloads = [
        e for e in events if e.kind == "tool_download" and "saved" in e.details.get("result", "")
    ]
    out = []
    for e in events:
        if e.kind not in rank or e.category != "malicious":
            continue
        score, why = rank[e.kind]
        if e.kind == "c2_channel":
            t = _time(e)
            if not any(timedelta(0) <= t - _time(d) <= C2_AFTER_DOWNLOAD for d in downloads):
                score, why = 3, "the server opened a control channel (IRC) to outside hosts"
        if e.kind == "tool_download" and "saved" not in e.details.get("result", ""):
            score -= 2
        if e.confidence != "high":
            score -= 1
        out.append(
            {
                "event": e.id,
                "kind": e.kind,
                "score": score,
                "why": why,
                "summary": e.summary,
                "sources": sorted({ev.source for ev in e.evidence}),
            }
        )
    out.sort(key=lambda r: (-int(str(r["score"])), int(str(r["event"])[1:])))
    return out[:10]


def _narrative(data: dict[str, Any]) -> str:
    if not data["compromises"]:
        return (
            "**No compromise found.** No web attack is shown to have run commands and no "
            "outsider is shown to have logged in. Attacks that failed are counted as noise (Q4)."
        )
    head = (
        f"**Verdict: {data['verdict']}** — {data['count']} compromise(s) by "
        f"{data['actor_count']} actor(s)."
    )
    lines = [head, ""]
    for c in data["compromises"]:
        who = ", ".join(c["addresses"][:6]) + (" …" if len(c["addresses"]) > 6 else "")
        users = f" as `{', '.join(c['users'])}`" if c["users"] else ""
        occ = f", {c['occasions']} occasions" if c["occasions"] > 1 else ""
        lines.append(
            f"- **{c['id']}** from {c['start'][:19].replace('T', ' ')} ({c['start_clock']} clock): "
            f"{c['how']}{users} by actor {c['actor']} ({who}{occ}); chain "
            + ", ".join(f"[{x}]" for x in c["chain"][:12])
            + f"; confidence {c['confidence']}."
        )
    lines.append("")
    for a in data["actors"]:
        if a["linked_because"]:
            lines.append(
                f"- Actor **{a['id']}**: {len(a['addresses'])} addresses, grouped because "
                "they " + "; ".join(a["linked_because"]) + "."
            )
        else:
            lines.append(f"- Actor **{a['id']}**: {a['addresses'][0]}, linked to no other address.")
    if data["unattributed"]:
        lines.append(
            "\nMalicious events that follow no compromise closely enough to be chained to "
            "it: " + ", ".join(f"[{x}]" for x in data["unattributed"]) + "."
        )
    best = data["most_compelling"]
    if best:
        lines.append(
            f"\n**Most compelling evidence: [{best['event']}]** — {best['summary']}. "
            f"It ranks first because {best['why']}."
        )
    return "\n".join(lines)
