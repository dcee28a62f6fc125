"""Server-rendered HTML: the page a person looks at for one user (inline SVG charts, no script, no
CDN) and the API docs page built from the OpenAPI schema (so it works without internet access)."""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape

TYPE_COLORS = {"view": "#8da0cb", "click": "#66c2a5", "like": "#a6d854", "purchase": "#e78ac3",
               "rating": "#ffd92f", "share": "#fc8d62", "skip": "#b3b3b3", "dislike": "#e5534b"}
CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328;
background:#f6f8fa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:0 0 8px}
.sub{color:#57606a;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px}
.kv{display:grid;grid-template-columns:auto 1fr;gap:2px 14px} .kv span:nth-child(odd){color:#57606a}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{padding:3px 6px;border-bottom:1px solid #eaeef2;text-align:left}
.legend span{display:inline-block;margin-right:12px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
code{background:#eaeef2;padding:1px 4px;border-radius:4px}
"""


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def _time(ms) -> str:
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(ms) -> str:
    if ms is None:
        return "–"
    s = ms / 1000
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(s) >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.1f} s"


def interest_chart(short: dict, long: dict) -> str:
    """Short- vs long-term interest per category/tag, each scaled to its own strongest value (their
    magnitudes differ by the half-lives); negative values (dislikes) drawn left of the axis in red."""
    keys = sorted(set(short) | set(long), key=lambda c: -max(abs(short.get(c, 0.0)), abs(long.get(c, 0.0))))
    if not keys:
        return "<p>no interest stored</p>"
    ms = max((abs(v) for v in short.values()), default=1.0) or 1.0
    ml = max((abs(v) for v in long.values()), default=1.0) or 1.0
    w, label_w, row_h = 440, 110, 26
    # the zero axis sits left when nothing is disliked, a quarter in otherwise (dislikes are the rarer side)
    has_neg = any(v < 0 for v in (*short.values(), *long.values()))
    mid = label_w + ((w - label_w) / 4 if has_neg else 0)
    half = w - mid - 10
    neg_room = mid - label_w
    parts = [f'<svg role="img" aria-label="interest" width="{w}" height="{row_h * len(keys) + 10}">',
             f'<line x1="{mid}" y1="0" x2="{mid}" y2="{row_h * len(keys)}" stroke="#8c959f"/>']
    for i, key in enumerate(keys):
        y = i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12">{escape(key)}</text>')
        for j, (series, m, color) in enumerate(((short, ms, "#0969da"), (long, ml, "#8250df"))):
            if key not in series:
                continue
            v = series[key]
            length = abs(v) / m * half if v >= 0 else min(abs(v) / m * half, neg_room)
            x = mid if v >= 0 else mid - length
            fill = color if v >= 0 else "#cf222e"
            parts.append(f'<rect x="{x:.1f}" y="{y + 3 + j * 10}" width="{max(length, 1):.1f}" height="9" '
                         f'fill="{fill}" opacity="{1 if j == 0 else 0.7}"><title>{escape(key)} '
                         f'{"short" if j == 0 else "long"}: {v:.4g}</title></rect>')
    parts.append("</svg>")
    legend = ('<div class="legend"><span><i class="sw" style="background:#0969da"></i>short (2 h)</span>'
              '<span><i class="sw" style="background:#8250df"></i>long (7 d)</span>'
              '<span><i class="sw" style="background:#cf222e"></i>dislike (negative)</span></div>')
    return "".join(parts) + legend


def window_chart(window_counts: dict) -> str:
    """Grouped bars: one group per window, one bar per event type."""
    windows = list(window_counts)
    types = sorted({t for counts in window_counts.values() for t in counts})
    if not windows or not types:
        return "<p>no events in any window</p>"
    top = max((c for counts in window_counts.values() for c in counts.values()), default=1) or 1
    w, h, base = 440, 190, 160
    group_w = (w - 40) / len(windows)
    bar_w = min(28, (group_w - 16) / len(types))
    parts = [f'<svg role="img" aria-label="window counts" width="{w}" height="{h}">',
             f'<line x1="30" y1="{base}" x2="{w}" y2="{base}" stroke="#8c959f"/>']
    for gi, win in enumerate(windows):
        gx = 40 + gi * group_w
        for ti, t in enumerate(types):
            c = window_counts[win].get(t, 0)
            bh = c / top * (base - 20)
            x = gx + ti * bar_w
            parts.append(f'<rect x="{x:.1f}" y="{base - bh:.1f}" width="{bar_w - 2:.1f}" height="{bh:.1f}" '
                         f'fill="{TYPE_COLORS.get(t, "#999")}"><title>{escape(win)} {escape(t)}: {c}</title></rect>')
            if c:
                parts.append(f'<text x="{x + bar_w / 2 - 1:.1f}" y="{base - bh - 3:.1f}" font-size="10" '
                             f'text-anchor="middle">{c}</text>')
        parts.append(f'<text x="{gx + len(types) * bar_w / 2:.1f}" y="{base + 18}" font-size="12" '
                     f'text-anchor="middle">{escape(win)}</text>')
    parts.append("</svg>")
    return "".join(parts) + _type_legend(types)


def _type_legend(types) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i class="sw" style="background:{TYPE_COLORS.get(t, "#999")}"></i>{escape(t)}</span>'
        for t in types) + "</div>"


def sequence_chart(sequence: list) -> str:
    """The recent sequence on a time axis, one row per event type."""
    events = [e for e in sequence if isinstance(e, dict) and e.get("event_time") is not None]
    if not events:
        return "<p>no recent events</p>"
    types = sorted({e.get("event_type", "?") for e in events})
    t0, t1 = min(e["event_time"] for e in events), max(e["event_time"] for e in events)
    span = max(t1 - t0, 1)
    w, row_h, left = 440, 22, 70
    h = row_h * len(types) + 30
    parts = [f'<svg role="img" aria-label="recent sequence" width="{w}" height="{h}">']
    for i, t in enumerate(types):
        y = i * row_h + 12
        parts.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" font-size="12">{escape(t)}</text>'
                     f'<line x1="{left}" y1="{y}" x2="{w - 10}" y2="{y}" stroke="#eaeef2"/>')
    for e in events:
        x = left + (e["event_time"] - t0) / span * (w - left - 20)
        y = types.index(e.get("event_type", "?")) * row_h + 12
        parts.append(f'<circle cx="{x:.1f}" cy="{y}" r="4" fill="{TYPE_COLORS.get(e.get("event_type"), "#999")}">'
                     f'<title>{escape(str(e.get("item_id")))} {_time(e["event_time"])}</title></circle>')
    parts.append(f'<text x="{left}" y="{h - 4}" font-size="11" fill="#57606a">{_time(t0)}</text>'
                 f'<text x="{w - 10}" y="{h - 4}" font-size="11" fill="#57606a" text-anchor="end">'
                 f'+{_age(t1 - t0)}</text></svg>')
    return "".join(parts)


def topk_chart(top_k: dict | None) -> str:
    if not top_k or not top_k.get("items"):
        return "<p>no scores stored for this user</p>"
    items, scores = top_k["items"][:15], top_k["scores"][:15]
    lo = min(min(scores), 0.0)
    hi = max(max(scores), 0.0)
    rng = (hi - lo) or 1.0
    w, label_w, row_h = 440, 90, 20
    zero = label_w + (0 - lo) / rng * (w - label_w - 60)
    parts = [f'<svg role="img" aria-label="top-K" width="{w}" height="{row_h * len(items) + 6}">']
    for i, (item, s) in enumerate(zip(items, scores)):
        y = i * row_h
        x_end = label_w + (s - lo) / rng * (w - label_w - 60)
        x, bw = (zero, x_end - zero) if s >= 0 else (x_end, zero - x_end)
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{i + 1}. '
                     f'{escape(str(item))}</text><rect x="{x:.1f}" y="{y + 4}" width="{max(bw, 1):.1f}" height="12" '
                     f'fill="#1a7f37"/><text x="{max(x_end, zero) + 4:.1f}" y="{y + 14}" font-size="11">'
                     f'{s:.3g}</text>')
    parts.append("</svg>")
    note = " (cold start: popularity list)" if top_k.get("cold_start") else ""
    return "".join(parts) + f'<div class="sub">{len(top_k["items"])} items{note}</div>'


def _kv(pairs) -> str:
    return '<div class="kv">' + "".join(f"<span>{escape(k)}</span><span>{v}</span>" for k, v in pairs) + "</div>"


def render_user(view: dict) -> str:
    f = view.get("features") or {}
    interest = f.get("interest") or {}
    session = f.get("session") or {}
    st = view.get("staleness") or {}
    seq = view.get("sequence") or []
    recent_rows = "".join(
        f"<tr><td>{_time(e.get('event_time'))}</td><td>{escape(str(e.get('event_type')))}</td>"
        f"<td>{escape(str(e.get('item_id')))}</td></tr>" for e in reversed(seq[-12:]))
    cards = [
        ("Interest: short vs long term", interest_chart(interest.get("short") or {}, interest.get("long") or {})
         + f'<div class="sub">short/long drift {_fmt(interest.get("short_long_drift"))}</div>'),
        (f"Window counts as of {_time((view.get('as_of') or {}).get('windows_as_of'))}",
         window_chart(f.get("window_counts") or {})),
        ("Top-K recommendations", topk_chart(view.get("top_k"))),
        ("Recent sequence", sequence_chart(seq) + f"<table><tr><th>time</th><th>type</th><th>item</th></tr>"
                                                  f"{recent_rows}</table>"),
        ("Sessions", _kv([("sessions", _fmt(session.get("count"))),
                          ("current: events", _fmt(session.get("current_events"))),
                          ("current: duration", _age(session.get("current_duration_ms"))),
                          ("current: dwell", _age(session.get("current_dwell_ms"))),
                          ("mean events / session", _fmt(session.get("avg_events"))),
                          ("events / day", _fmt(f.get("events_per_day"))),
                          ("last gap", _age(f.get("last_gap_ms")))])),
        ("Freshness and model", _kv([("model version", _fmt(view.get("model_version"))),
                                     ("embedding drift", _fmt(view.get("drift"))),
                                     ("state event time", _time(view["as_of"]["state_event_time"])),
                                     ("state age (event time)", _age(st.get("state_event_age_ms"))),
                                     ("state written", _age(st.get("state_written_age_ms")) + " ago"),
                                     ("score written", _age(st.get("score_written_age_ms")) + " ago"),
                                     ("events (lifetime)", _fmt(f.get("event_count")))])),
    ]
    body = "".join(f'<section class="card"><h2>{escape(t)}</h2>{c}</section>' for t, c in cards)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>user {escape(view['user_id'])}</title>"
            f"<style>{CSS}</style></head><body><h1>User <code>{escape(view['user_id'])}</code></h1>"
            f"<div class='sub'>stored key; read {_time(view['as_of']['read_at'])}</div>"
            f"<div class='grid'>{body}</div></body></html>")


def render_not_found() -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>not found</title><style>{CSS}</style>"
            "</head><body><h1>Unknown user</h1><p>The store holds no state for this id.</p></body></html>")


def render_docs(openapi: dict) -> str:
    """Endpoints, parameters and responses from the OpenAPI schema (``/openapi.json`` has it all)."""
    rows = []
    for path, ops in openapi.get("paths", {}).items():
        for method, op in ops.items():
            params = ", ".join(f"<code>{escape(p['name'])}</code> ({escape(p.get('in', ''))})"
                               + (f": {escape(p['description'])}" if p.get("description") else "")
                               for p in op.get("parameters", []))
            if "requestBody" in op:
                params += (", " if params else "") + "JSON body (see the schema)"
            codes = ", ".join(escape(c) for c in op.get("responses", {}))
            rows.append(f"<tr><td><b>{method.upper()}</b> <code>{escape(path)}</code></td>"
                        f"<td>{escape(op.get('summary', ''))}</td><td>{params or '–'}</td><td>{codes}</td></tr>")
    info = openapi.get("info", {})
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(info.get('title', 'API'))}</title>"
            f"<style>{CSS}</style></head><body><h1>{escape(info.get('title', ''))}</h1>"
            f"<div class='sub'>{escape(info.get('description', ''))} Schema: <a href='/openapi.json'>"
            f"/openapi.json</a></div><div class='card'><table><tr><th>endpoint</th><th>what</th>"
            f"<th>parameters</th><th>responses</th></tr>{''.join(rows)}</table></div></body></html>")
