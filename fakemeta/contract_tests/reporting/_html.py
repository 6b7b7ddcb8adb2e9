"""`--report-html`: one self-contained page to attach to a CI run.

Inline CSS, no scripts, no external resources; a Content-Security-Policy
forbids scripts anyway. Everything shown is escaped: the receiver's answers
are untrusted, and a `<script>` in a response body is shown as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from fakemeta.contract_tests.report import CheckResult, Report
from fakemeta.contract_tests.reporting._text import failure_fields, printable, summary_line

__all__ = ["render_html"]

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1d1d1f; background: #fff; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.meta dt, dl.fields dt { font-weight: 600; color: #555; }
dl.meta dd, dl.fields dd { margin: 0; overflow-wrap: anywhere; }
p.summary { font-size: 1.15rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3rem .6rem;
         border-bottom: 1px solid #eee; overflow-wrap: anywhere; }
th { background: #f6f6f6; }
td.id, td.level, td.outcome { white-space: nowrap; }
tr.passed td.outcome, .passed .mark { color: #1a7f37; }
tr.failed td.outcome, .failed .mark { color: #cf222e; font-weight: 600; }
tr.skipped td.outcome, .skipped .mark { color: #9a6700; }
tr.failed { background: #fff5f5; }
section.failure { border: 1px solid #f1aeb5; border-radius: 6px; padding: .2rem 1rem 1rem;
                  margin: 1rem 0; }
dl.fields { display: grid; grid-template-columns: 7rem 1fr; gap: .4rem 1rem; }
pre { margin: 0; padding: .5rem; background: #f6f8fa; border-radius: 4px;
      white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.muted { color: #666; }
"""

_MARKS = {"passed": "✓", "failed": "✗", "skipped": "–"}


def _e(text: str) -> str:
    return escape(printable(text), quote=True)


def _failure(result: CheckResult, anchor: str) -> str:
    requirement = result.requirement
    fields = []
    for label, lines in failure_fields(result):
        if label in ("sent", "came back", "reproduce"):
            value = f"<pre>{_e(chr(10).join(lines))}</pre>"
        else:
            value = _e(" ".join(lines))
        fields.append(f"<dt>{_e(label)}</dt><dd>{value}</dd>")
    return (
        f'<section class="failure" id="{anchor}">'
        f"<h3>{_e(requirement.id)} ({_e(requirement.level)}) {_e(requirement.title)}</h3>"
        f'<p class="muted">{_e(result.check)}: {_e(result.description)}</p>'
        f'<dl class="fields">{"".join(fields)}</dl></section>'
    )


def render_html(report: Report, properties: Mapping[str, str]) -> str:
    """The HTML page as text (write it as UTF-8)."""
    failures = [r for r in report.results if r.outcome == "failed"]
    anchors = {id(r): f"failure-{i}" for i, r in enumerate(failures, 1)}
    first_failure: dict[str, str] = {}
    for result in failures:
        first_failure.setdefault(result.requirement.id, anchors[id(result)])
    counts = report.summary()

    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in properties.items())
    notes = "".join(f"<li>{_e(note)}</li>" for note in report.notes)
    rows = []
    for r in report.requirements():
        rid = _e(r.requirement.id)
        if r.requirement.id in first_failure:
            rid = f'<a href="#{first_failure[r.requirement.id]}">{rid}</a>'
        rows.append(
            f'<tr class="{r.outcome}"><td class="id">{rid}</td>'
            f'<td class="level">{_e(r.requirement.level)}</td>'
            f"<td>{_e(r.requirement.title)}</td>"
            f'<td class="outcome">{_MARKS[r.outcome]} {r.outcome}</td>'
            f"<td>{_e(r.detail)}</td></tr>"
        )
    checks = "".join(
        f'<tr class="{c.outcome}"><td class="outcome">{_MARKS[c.outcome]} {c.outcome}</td>'
        f'<td class="id">{_e(c.check)}</td><td>{_e(c.description)}</td>'
        f"<td>{_e(c.detail)}</td><td>{c.duration:.2f} s</td></tr>"
        for c in report.results
    )
    failure_sections = "".join(_failure(r, anchors[id(r)]) for r in failures)
    status = "failed" if counts["failed"] else "passed"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fakemeta check: {_e(summary_line(report))}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>fakemeta check</h1>
<dl class="meta">{meta}</dl>
<p class="summary {status}"><span class="mark">{_MARKS[status]}</span> {_e(summary_line(report))}
<span class="muted">in {report.duration:.1f} s</span></p>
{f'<ul class="notes">{notes}</ul>' if notes else ""}
<h2>Requirements</h2>
<table class="matrix">
<thead><tr><th>ID</th><th>level</th><th>requirement</th><th>outcome</th><th>reason</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<h2>Failures</h2>
{failure_sections or '<p class="muted">none</p>'}
<h2>Checks</h2>
<table class="checks">
<thead><tr><th>outcome</th><th>check</th><th>what it checks</th><th>detail</th><th>time</th>
</tr></thead>
<tbody>{checks}</tbody>
</table>
</body>
</html>
"""
