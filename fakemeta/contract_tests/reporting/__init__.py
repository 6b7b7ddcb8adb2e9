"""Reports of a contract run: the terminal, JUnit XML, HTML, and safe files.

The JSON report is `Report.to_json()` (fakemeta.contract_tests.report); this package
renders the other formats from the same `Report`, redacts secrets before any
of them is shown, and writes files atomically.
"""

from fakemeta.contract_tests.reporting._files import check_writable, write_atomic
from fakemeta.contract_tests.reporting._html import render_html
from fakemeta.contract_tests.reporting._junit import render_junit
from fakemeta.contract_tests.reporting._redact import redact
from fakemeta.contract_tests.reporting._terminal import TerminalReporter
from fakemeta.contract_tests.reporting._text import printable, summary_line

__all__ = [
    "TerminalReporter",
    "check_writable",
    "printable",
    "redact",
    "render_html",
    "render_junit",
    "summary_line",
    "write_atomic",
]
