"""The author's dashboard: what learners asked, where the bot failed, and the index's state,
gathered from the feedback store, the live retriever and the knowledge folder, and rendered
as plain server-side HTML (inline CSS and SVG, nothing fetched from elsewhere)."""

from __future__ import annotations

import calendar
import csv
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .authoring import file_version
from .errors import RolebotError
from .knowledge import knowledge_files, read_document
from .report import Cluster, Downvoted, build_report, cell

DAYS = 14  # days in the chart
HISTORY_DAYS = 90  # unanswered questions and votes looked at
KINDS = (("answer", "answered", "#2f7d4f"), ("not_found", "not found", "#c0572b"), ("smalltalk", "small talk", "#8a8f98"))
SNIPPET = 360


@dataclass(frozen=True)
class View:
    days: list[tuple[str, dict]]  # (YYYY-MM-DD, {kind: answers}) for the chart, oldest first
    totals: dict
    unanswered: list[Cluster]
    downvoted: list[tuple[Downvoted, list[dict]]]  # with the cited passages as they read now
    documents: list[dict]
    status: dict = field(default_factory=dict)


def collect(feedback, retriever, knowledge_dir: Path, reloader=None, now: float | None = None) -> View:
    now = now or time.time()
    days = [time.strftime("%Y-%m-%d", time.gmtime(now - 86400 * n)) for n in range(DAYS - 1, -1, -1)]
    per_day = {d: {k: 0 for k, _, _ in KINDS} for d in days}
    rows = []
    if feedback is not None:
        for day, kind, n in feedback.daily_counts(days[0]):
            if day in per_day and kind in per_day[day]:
                per_day[day][kind] += n
        rows = feedback.rows(now - HISTORY_DAYS * 86400)
    report = build_report(rows, retriever.embedder)
    counted = {k: sum(d[k] for d in per_day.values()) for k, _, _ in KINDS}
    questions = counted["answer"] + counted["not_found"]
    votes = report.totals["votes_up"] + report.totals["votes_down"]
    totals = {
        **counted,
        "asked": sum(counted.values()),
        "share_answered": counted["answer"] / questions if questions else None,
        "up": report.totals["votes_up"],
        "down": report.totals["votes_down"],
        "up_rate": report.totals["votes_up"] / votes if votes else None,
        "events": report.totals["events"],
    }
    downvoted = [(d, [_passage(retriever, pid) for pid in d.citations]) for d in report.downvoted]
    status = reloader.status() if reloader is not None else {}
    return View([(d, per_day[d]) for d in days], totals, report.unanswered, downvoted,
                documents(knowledge_dir, retriever.manifest, status), status)


def _passage(retriever, passage_id: str) -> dict:
    try:
        p = retriever.passage(passage_id)
        return {"id": passage_id, "section": p.heading, "text": p.text}
    except (KeyError, RolebotError):
        return {"id": passage_id, "section": "(no longer in the index)", "text": ""}


def documents(knowledge_dir: Path, manifest: dict, status: dict | None = None) -> list[dict]:
    """Each knowledge file with its passages now and in the serving index, and its state."""
    built = {d["slug"]: d for d in manifest.get("documents", [])}
    built_at = calendar.timegm(time.strptime(manifest["built_at"], "%Y-%m-%dT%H:%M:%SZ")) if manifest.get("built_at") else 0.0
    building = (status or {}).get("state") == "building"
    out = []
    try:
        files = knowledge_files(knowledge_dir)
    except RolebotError:
        files = []
    for path in files:
        entry = {"file": path.name, "slug": "", "title": path.name, "passages": None, "indexed": None, "error": "",
                 "version": file_version(path)}
        try:
            doc = read_document(path)
            entry.update(slug=doc.slug, title=doc.title, passages=len(doc.passages))
        except RolebotError as exc:
            entry["error"] = str(exc)
        indexed = built.get(entry["slug"])
        entry["indexed"] = indexed["passages"] if indexed else None
        changed = indexed is None or path.stat().st_mtime > built_at + 1 or entry["error"]
        entry["state"] = "building" if building else "stale" if changed else "fresh"
        out.append(entry)
    return out


def candidates(retriever, question: str, k: int = 5) -> list:
    """The passages a learner's question is closest to: where an alternate phrasing could go."""
    try:
        return retriever.search(question, k=k)
    except RolebotError:
        return []


def to_csv(view: View) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "day", "count", "answered", "not_found", "smalltalk", "up", "down", "question", "detail", "citations"])
    for day, counts in view.days:
        w.writerow(["daily", day, sum(counts.values()), counts["answer"], counts["not_found"], counts["smalltalk"],
                    "", "", "", "", ""])
    for c in view.unanswered:
        w.writerow([cell(x) for x in ["unanswered", time.strftime("%Y-%m-%d", time.gmtime(c.last_asked)), c.count,
                                      "", "", "", "", "", c.question, " | ".join(c.variants), ""]])
    for d, _ in view.downvoted:
        w.writerow([cell(x) for x in ["downvoted", "", d.down + d.up, "", "", "", d.up, d.down, d.question, d.answer,
                                      " ".join(d.citations)]])
    for doc in view.documents:
        w.writerow([cell(x) for x in ["document", "", doc["passages"] or 0, "", "", "", "", "", doc["title"],
                                      f"{doc['file']} ({doc['state']})", ""]])
    return out.getvalue()


# -- HTML -------------------------------------------------------------------------------------
e = html.escape

STYLE = """
*{box-sizing:border-box} body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2329;background:#f4f5f7}
header{background:#0f3d3e;color:#fff;padding:12px 20px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0;flex:1 1 auto} header form{margin:0}
main{max-width:1100px;margin:0 auto;padding:16px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px;margin:0 0 16px;overflow-wrap:anywhere}
.card h2{font-size:16px;margin:0 0 10px}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:16px}
.stat{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px}
.stat b{display:block;font-size:24px} .stat span{color:#5b6570;font-size:13px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:6px 8px;border-top:1px solid #eceef1;vertical-align:top}
th{font-size:13px;color:#5b6570;font-weight:600} .scroll{overflow-x:auto} td.act{width:1%;text-align:right}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;background:#e7eaee}
.fresh{background:#dff3e6;color:#1f6a3c} .stale{background:#fdecd8;color:#8a4a12} .building{background:#e1ecfb;color:#1d4f91}
.badge,.btn,button,th{white-space:nowrap} .badge.error{white-space:normal;background:#fbe3e3;color:#8d1f1f}
.btn,button{display:inline-block;border:1px solid #0f3d3e;background:#0f3d3e;color:#fff;border-radius:6px;padding:6px 12px;font:inherit;font-size:14px;cursor:pointer;text-decoration:none}
.btn.light,header button{background:#fff;color:#0f3d3e}
.muted{color:#5b6570;font-size:13px} .notice{background:#dff3e6;border-color:#a9d8b8}
.variants{margin:4px 0 0;padding-left:18px;color:#5b6570;font-size:13px}
blockquote{margin:6px 0;padding:6px 10px;border-left:3px solid #c5ccd3;background:#f7f8fa;white-space:pre-wrap;font-size:14px}
label.cand{display:block;border:1px solid #dde1e6;border-radius:6px;padding:8px;margin:8px 0;cursor:pointer}
label.cand:has(input:checked){border-color:#0f3d3e;background:#eef6f5}
input[type=text],input[type=password],textarea,select{width:100%;font:inherit;padding:7px;border:1px solid #b8c0c8;border-radius:6px}
textarea{min-height:110px} .row{margin:10px 0}
svg text{font-size:11px;fill:#5b6570} .legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.empty{text-align:center;padding:28px 12px;color:#3b444d}
@media (max-width:600px){main{padding:10px} .card{padding:12px} th,td{padding:4px} .btn{padding:5px 9px} .variants{padding-left:14px} .hide-narrow{display:none} svg text{font-size:22px}}
"""

STATUS_JS = """
(function(){
  var box=document.getElementById('index-state'); if(!box) return;
  var first=box.dataset.build;
  function show(s){
    var t='Index '+s.state; if(s.state==='building') t+=' ('+s.building_for+' s)';
    var note=s.last&&s.last.error?' — last build failed: '+s.last.error:(s.build!==first?' — new build live: '+s.build:'');
    box.className='badge '+(s.last&&s.last.error?'error':s.state); box.textContent=t+note; box.dataset.live=s.build;
  }
  function poll(){fetch('/admin/status',{credentials:'same-origin'}).then(function(r){return r.ok?r.json():null})
    .then(function(s){if(s) show(s)}).catch(function(){}).then(function(){setTimeout(poll,1500)})}
  poll();
})();
"""


def _layout(title: str, body: str, csrf: str | None = None) -> str:
    signout = (f'<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="{e(csrf)}">'
               '<button type="submit">Sign out</button></form>') if csrf else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="referrer" content="no-referrer"><title>{e(title)} · rolebot</title><style>{STYLE}</style></head>'
            f'<body><header><h1>rolebot · {e(title)}</h1>{signout}</header><main>{body}</main></body></html>')


def login_page(csrf: str, error: str = "") -> str:
    problem = f'<p class="badge error" role="alert" id="login-error">{e(error)}</p>' if error else ""
    return _layout("Sign in", f"""<div class="card" style="max-width:420px;margin:40px auto">
<h2>Course author sign-in</h2>{problem}
<form method="post" action="/admin/login" autocomplete="off">
<input type="hidden" name="csrf" value="{e(csrf)}">
<div class="row"><label for="token">Admin token</label><input type="password" id="token" name="token" required autofocus></div>
<button type="submit" id="sign-in">Sign in</button></form>
<p class="muted">The token is the one given to <code>rolebot serve --admin-token</code> or <code>ROLEBOT_ADMIN_TOKEN</code>.</p></div>""")


def message_page(title: str, text: str) -> str:
    return _layout(title, f'<div class="card"><h2>{e(title)}</h2><p id="message">{e(text)}</p>'
                          f'<p><a class="btn light" href="/admin/">Back to the dashboard</a></p></div>')


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def chart(days: list[tuple[str, dict]]) -> str:
    """Stacked bars per day as inline SVG; it scales with the page width."""
    width, height, top, bottom, left = 720, 240, 14, 34, 48
    peak = max([sum(c.values()) for _, c in days] + [1])
    peak += peak % 2 if peak > 1 else 0  # an even top, so the middle line has a whole number
    step = (width - left - 6) / len(days)
    scale = (height - top - bottom) / peak
    parts = [f'<svg id="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="Questions per day">']
    for frac in (0, 0.5, 1) if peak > 1 else (0, 1):
        y = height - bottom - frac * peak * scale
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef1"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(frac * peak)}</text>')
    for i, (day, counts) in enumerate(days):
        x, y = left + i * step + step * 0.15, height - bottom
        for kind, label, colour in KINDS:
            h = counts[kind] * scale
            if h:
                y -= h
                parts.append(f'<rect class="bar-{kind}" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
                             f'<title>{day}: {counts[kind]} {label}</title></rect>')
        if (len(days) - 1 - i) % 2 == 0:  # every other day, always today
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height - 8}" text-anchor="middle">{day[5:]}</text>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{label}</span>' for _, label, c in KINDS)
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def dashboard_page(view: View, csrf: str, notice: str = "") -> str:
    t, s = view.totals, view.status
    state = s.get("state", "fresh")
    last_error = (s.get("last") or {}).get("error")
    badge = (f'<span id="index-state" class="badge {"error" if last_error else e(state)}" data-build="{e(s.get("build", ""))}">'
             f'Index {e(state)}{" — last build failed: " + e(last_error) if last_error else ""}</span>')
    parts = [f'<div class="card notice" id="notice">{e(notice)}. It goes live when the index badge shows the new build.</div>'
             if notice else ""]
    parts.append(f'<p>{badge} <span class="muted">serving build {e(s.get("build", "?"))}, {e(str(s.get("passages", "")))} passages</span>'
                 ' <a class="btn light" href="/admin/export.csv" id="export">Export CSV</a></p>')
    if not t["asked"] and not t["events"]:
        parts.append('<div class="card empty" id="empty"><h2>No questions yet</h2><p>Once learners use the chat (<a href="/chat/">/chat/</a> '
                     'or the widget on your course page), this page shows what they ask each day, what the knowledge could not '
                     'answer and which answers they voted down — and lets you fix them here.</p></div>')
    else:
        parts.append('<div class="stats">'
                     f'<div class="stat"><b id="asked">{t["asked"]}</b><span>questions, last {DAYS} days</span></div>'
                     f'<div class="stat"><b id="share-answered">{_percent(t["share_answered"])}</b><span>answered (of questions, not counting small talk)</span></div>'
                     f'<div class="stat"><b id="not-found">{t["not_found"]}</b><span>not found</span></div>'
                     f'<div class="stat"><b id="up-rate">{_percent(t["up_rate"])}</b><span>thumbs up ({t["up"]} up, {t["down"]} down)</span></div>'
                     '</div>')
        parts.append(f'<div class="card"><h2>Questions per day</h2>{chart(view.days)}</div>')
    rows = []
    for c in view.unanswered[:15]:
        also = "".join(f"<li>{e(v)}</li>" for v in c.variants[:5] if v != c.question)
        rows.append(f'<tr class="cluster"><td>{c.count}×</td><td><span class="question">{e(c.question)}</span>'
                    f'{f"<ul class=variants>{also}</ul>" if also else ""}</td>{_fix_cell(c.question)}</tr>')
    parts.append(_table_card("unanswered", "Most asked, not answered", ("asked", "question (and other wordings)"), rows,
                             "Nothing unanswered so far."))
    rows = []
    for d, cited in view.downvoted[:10]:
        quotes = "".join(f'<div class="muted">{e(p["section"])} <code>{e(p["id"])}</code></div>'
                         f'<blockquote>{e(_short(p["text"]))}</blockquote>' for p in cited)
        rows.append(f'<tr class="downvoted"><td>−{d.down} +{d.up}</td><td><b>Q:</b> {e(d.question)}<br><b>A:</b> {e(" ".join(_short(d.answer).split()))}'
                    f'<details><summary class="muted">cited passages ({len(cited)})</summary>{quotes}</details></td>'
                    f'{_fix_cell(d.question)}</tr>')
    parts.append(_table_card("downvoted", "Answers voted down", ("votes", "question, answer and sources"), rows,
                             "No thumbs down so far."))
    rows = []
    for doc in view.documents:
        problem = f'<div class="badge error">{e(doc["error"])}</div>' if doc["error"] else ""
        rows.append(f'<tr><td>{e(doc["title"])}<div class="muted">{e(doc["file"])}</div>{problem}</td>'
                    f'<td>{doc["passages"] if doc["passages"] is not None else "–"}</td>'
                    f'<td class="hide-narrow">{doc["indexed"] if doc["indexed"] is not None else "not yet"}</td>'
                    f'<td><span class="badge {e(doc["state"])}">{e(doc["state"])}</span></td></tr>')
    parts.append('<div class="card" id="documents"><h2>Documents</h2><div class="scroll"><table>'
                 '<tr><th>document</th><th>passages</th><th class="hide-narrow">in the index</th><th>state</th></tr>'
                 f'{"".join(rows)}</table></div></div>')
    return _layout("Author dashboard", "".join(parts) + f"<script>{STATUS_JS}</script>", csrf)


def _fix_cell(question: str) -> str:
    return f'<td class="act"><a class="btn" href="/admin/fix?q={quote(question)}">Fix</a></td>'


def _table_card(card_id: str, title: str, head: tuple[str, ...], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<div class="card" id="{card_id}"><h2>{e(title)}</h2><p class="muted">{e(empty)}</p></div>'
    heads = "".join(f"<th>{e(h)}</th>" for h in head)
    return (f'<div class="card" id="{card_id}"><h2>{e(title)}</h2><div class="scroll"><table>'
            f'<tr>{heads}<th></th></tr>{"".join(rows)}</table></div></div>')


def _short(text: str) -> str:
    """At most SNIPPET characters; line breaks kept (lists read as lists in a blockquote)."""
    text = "\n".join(" ".join(line.split()) for line in text.strip().split("\n"))
    return text if len(text) <= SNIPPET else text[:SNIPPET].rsplit(" ", 1)[0] + " …"


def fix_page(question: str, hits: list, docs: list[dict], csrf: str) -> str:
    versions = "".join(f'<input type="hidden" name="version:{e(d["slug"])}" value="{e(d["version"])}">' for d in docs if d["slug"])
    hidden = f'<input type="hidden" name="csrf" value="{e(csrf)}">{versions}'
    options = "".join(
        f'<label class="cand"><input type="radio" name="passage" value="{e(h.id)}" required{" checked" if n == 0 else ""}> '
        f'<b>{e(h.section)}</b> <span class="badge">{e(h.kind)}</span> <code class="muted">{e(h.id)}</code>'
        f'<blockquote>{e(_short(h.text))}</blockquote></label>'
        for n, h in enumerate(hits)
    )
    choices = "".join(f'<option value="{e(d["slug"])}">{e(d["title"])}</option>' for d in docs if d["slug"])
    body = f"""<p><a href="/admin/">← Dashboard</a></p>
<div class="card"><h2>Learners asked</h2><p id="fix-question"><b>{e(question)}</b></p></div>
<div class="card"><h2>(a) Attach it as another wording of an existing passage</h2>
<p class="muted">The closest passages now. The chosen one is then found by this wording as well as by its own text.</p>
<form method="post" action="/admin/alternate" id="alternate-form">{hidden}
<div class="row"><label for="alt-question">Wording</label><input type="text" id="alt-question" name="question" value="{e(question)}" maxlength="300" required></div>
{options or '<p class="muted">No passages found.</p>'}
<button type="submit" id="attach">Attach as alternate phrasing</button></form></div>
<div class="card"><h2>(b) Draft a new FAQ entry</h2>
<form method="post" action="/admin/faq" id="faq-form">{hidden}
<div class="row"><label for="faq-document">Document</label><select id="faq-document" name="document">{choices}</select></div>
<div class="row"><label for="faq-question">Question</label><input type="text" id="faq-question" name="question" value="{e(question)}" maxlength="300" required></div>
<div class="row"><label for="faq-answer">Answer</label><textarea id="faq-answer" name="answer" maxlength="4000" required></textarea></div>
<button type="submit" id="add-faq">Add to the FAQ</button></form></div>"""
    return _layout("Fix an answer", body, csrf)
