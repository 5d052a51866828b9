"""The self-contained HTML write-up: Jinja2 templates, assets inlined, nothing remote.

Every byte that came from a log is escaped: Jinja2 autoescapes everything; the
Markdown narratives are rendered with raw HTML, entities, links and images
turned off, so log text in them stays text; chart specs are embedded as JSON
escaped for a script context. The Content-Security-Policy allows only the
page's own inline scripts and styles, by hash, and no network request at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import markdown
from markupsafe import Markup, escape

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
ASSETS = ROOT / "assets"
VEGA_LITE_VERSION = "v6.4"
CITATION = re.compile(r"\[(E|C|A)(\d{1,6})\]")
"""Event, compromise and actor ids in narratives; they become links to their anchors."""


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed from the pinned vl-convert-python bundle.

    Building the bundle takes seconds, so it is kept in the user's cache directory,
    keyed by the vl-convert and Vega-Lite versions (the bytes are the same each time).
    """
    import os

    import vl_convert

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = f"vega-{vl_convert.get_vega_version()}-vl{VEGA_LITE_VERSION}-embed{vl_convert.get_vega_embed_version()}"
    path = Path(base) / "reportgen" / f"{key}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = str(vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION))  # type: ignore[call-arg]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home only costs the seconds again next time
    return text


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=[], output_format="html")
    # Log text inside narratives must stay text: no raw HTML, no entities,
    # no links or images (javascript:, remote loads), no automatic links.
    md.preprocessors.deregister("html_block")
    for pattern in (
        "html",
        "entity",
        "link",
        "image_link",
        "image_reference",
        "reference",
        "short_reference",
        "short_image_ref",
        "autolink",
        "automail",
    ):
        if pattern in md.inlinePatterns:
            md.inlinePatterns.deregister(pattern)
    return md


def render_markdown(text: str) -> Markup:
    """Narrative Markdown to HTML in which every log byte is escaped; ids become links."""
    md = _markdown()
    html = md.convert(text)
    html = CITATION.sub(
        lambda m: (
            f'<a href="#{m.group(1).lower()}-{m.group(1)}{m.group(2)}">'
            f"[{m.group(1)}{m.group(2)}]</a>"
        ),
        html,
    )
    return Markup(html)


def script_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no </script>, <!--, U+2028/9."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    text = (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return Markup(text)


def when(value: str | None, clock: str | None = None) -> str:
    """``2011-06-15T19:00:40`` -> ``2011-06-15 19:00:40 (clock)``."""
    if not value:
        return "—"
    text = value[:19].replace("T", " ")
    return f"{text} ({clock})" if clock else text


def shorten(value: Any, length: int = 160) -> str:
    """Long text cut visibly (the full text is in the evidence appendix)."""
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[: length - 1] + "…"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def environment() -> jinja2.Environment:
    """The Jinja environment: autoescape on, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = render_markdown
    env.filters["script_json"] = script_json
    env.filters["when"] = when
    env.filters["shorten"] = shorten
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int | float) else escape(v)
    return env


def asset(name: str) -> str:
    """An asset's text."""
    return (ASSETS / name).read_text()


def page(template: str, context: dict[str, Any], charts: bool = True) -> str:
    """Render a page with its CSS and scripts inlined and a CSP that names them by hash."""
    css = asset("report.css")
    scripts = [
        s.replace("</script", "<\\/script")
        for s in ([vega_bundle(), asset("charts.js")] if charts else [])
    ]
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + (" ".join(_sha256(s) for s in scripts) or "'none'"),
            # Vega writes style attributes on the SVG it draws; styles cannot run code and
            # every load they could trigger is blocked by the rest of the policy.
            "style-src 'unsafe-inline'",
            "img-src data:",
            "font-src 'none'",
            "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    html = (
        environment()
        .get_template(template)
        .render(**context, css=Markup(css), scripts=[Markup(s) for s in scripts], csp=policy)
    )
    return html


def report_context(
    name: str,
    findings: dict[str, Any],
    charts: list[Any],
    problems: list[dict[str, Any]],
    generated_at: str | None,
    generator: str,
) -> dict[str, Any]:
    """Everything report.html needs; sorting and counting happened in the analyses."""
    comp = findings["compromise"].data
    method = findings["method"].data
    clocks = findings["clocks"].data
    firsts = [s["first"] for s in method["sources"] if s["first"]]
    lasts = [s["last"] for s in method["sources"] if s["last"]]
    offsets = [p for p in clocks["pairs"] if p["confidence"] != "none"]
    worst = max(offsets, key=lambda p: abs(p["implied_error_s"]), default=None)
    if comp["count"]:
        sentence = (
            f"The host was {comp['verdict']}: {comp['count']} compromise(s) by "
            f"{comp['actor_count']} actor(s); the most compelling evidence is "
            f"{comp['most_compelling']['event'] if comp['most_compelling'] else '—'}."
        )
    else:
        sentence = "No compromise was found in these logs."
    return {
        "name": name,
        "generator": generator,
        "generated_at": generated_at,
        "period": {"first": min(firsts) if firsts else None, "last": max(lasts) if lasts else None},
        "verdict_sentence": sentence,
        "verdict_clean": not comp["count"],
        "numbers": [
            ("compromises", comp["count"]),
            ("actors", comp["actor_count"]),
            ("sources", sum(s["files"] for s in method["sources"])),
            ("lines read", f"{method['lines']:,}"),
            ("largest clock error", f"{worst['implied_error_s']:+.0f} s" if worst else "n/a"),
        ],
        "toc": [
            ("target", "The target"),
            ("q1", "Q1 · Significant events"),
            ("q2", "Q2 · Compromise"),
            ("q3", "Q3 · Detection in production"),
            ("q4", "Q4 · Noise"),
            ("q5", "Q5 · Time"),
            ("q6", "Q6 · Method"),
            ("evidence", "Appendix A · Evidence"),
            ("quality", "Appendix B · Data quality"),
        ],
        "reference": clocks["reference"],
        "f": findings,
        "events": findings["timeline"].data["events"],
        "charts": {c.id: c for c in charts},
        "problems": problems,
    }


def render_report(context: dict[str, Any]) -> str:
    """The write-up page."""
    return page("report.html", context)


def render_index(reports: list[dict[str, Any]], generator: str) -> str:
    """The site's listing of every report."""
    return page("index.html", {"reports": reports, "generator": generator}, charts=False)
