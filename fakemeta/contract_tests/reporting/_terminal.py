"""What `fakemeta check` prints: progress, the requirement table, failures, summary.

On a terminal it uses rich for colour; piped or with `color=False` it writes
plain text (no ANSI escapes) that reads the same in a CI log. Text from the
receiver is never interpreted as markup and its control characters are
escaped (`_text.printable`), so a hostile response cannot drive the terminal.
"""

from __future__ import annotations

import codecs
import os
import sys
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.report import CheckResult, Report
from fakemeta.contract_tests.reporting._text import (
    ASCII_MARKS,
    MARKS,
    failure_fields,
    one_line,
    summary_line,
)

__all__ = ["TerminalReporter"]

_STYLES = {"passed": "green", "failed": "bold red", "skipped": "yellow"}
# The terminal shows this much of a body; the JSON, JUnit and HTML reports more.
_BODY_LIMIT = 600
_LABEL_WIDTH = 10


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _encoding(stream: TextIO) -> str:
    name = getattr(stream, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


class TerminalReporter:
    """Prints one run. `color=None` means: colour when `stream` is a terminal
    and `NO_COLOR` is not set."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if color is None:
            color = _isatty(self.stream) and not os.environ.get("NO_COLOR")
        self.color = color
        self._encoding = _encoding(self.stream)
        try:
            "".join(MARKS.values()).encode(self._encoding)
            self.marks = MARKS
        except UnicodeEncodeError:
            self.marks = ASCII_MARKS
        self._console = (
            Console(
                file=self.stream,
                force_terminal=True,
                color_system="auto" if _isatty(self.stream) else "standard",
                highlight=False,
                emoji=False,
                markup=False,
            )
            if color
            else None
        )

    # --- output primitives ---------------------------------------------------

    def _write(self, *parts: tuple[str, str]) -> None:
        """One line from (text, style) parts; styles only apply in colour."""
        if self._console is not None:
            # soft_wrap: the terminal wraps long lines, so URLs and the
            # reproduce command stay whole for copying.
            self._console.print(Text.assemble(*parts), soft_wrap=True)
            return
        line = "".join(text for text, _ in parts)
        # A console that cannot encode Arabic or emoji still gets the line.
        line = line.encode(self._encoding, "backslashreplace").decode(self._encoding)
        self.stream.write(line + "\n")
        self.stream.flush()

    # --- the run -------------------------------------------------------------

    def start(self, config: SuiteConfig) -> None:
        limit = str(config.rate_limit) if config.rate_limit else "off"
        self._write(("checking ", ""), (one_line(config.url, 300), "bold"))
        self._write(
            (
                f"profile {config.profile}, era {config.era}, seed {config.seed}, "
                f"rate limit {limit}, "
                f"{config.examples} examples per property"
                + (f", selected: {' '.join(config.select)}" if config.select else ""),
                "dim",
            )
        )
        self._write(("", ""))

    def result(self, result: CheckResult) -> None:
        """The progress line of one finished check."""
        mark = self.marks[result.outcome]
        parts: list[tuple[str, str]] = [
            (mark, _STYLES[result.outcome]),
            (" ", ""),
            (result.check, ""),
        ]
        if result.outcome == "passed":
            parts.append((f"  {result.duration:.1f} s", "dim"))
        else:
            parts.append((f"  {one_line(result.detail)}", _STYLES[result.outcome]))
        self._write(*parts)

    def finish(self, report: Report) -> None:
        """The requirement table, each failure in full, the summary and notes."""
        self._write(("", ""))
        self._table(report)
        failures = [r for r in report.results if r.outcome == "failed"]
        for result in failures:
            self._write(("", ""))
            self._failure(result)
        self._write(("", ""))
        counts = report.summary()
        style = "bold red" if counts["failed"] else "bold green"
        self._write((summary_line(report), style), (f" in {report.duration:.1f} s", "dim"))
        for note in report.notes:
            self._write((f"note: {one_line(note, 500)}", "yellow"))

    def _table(self, report: Report) -> None:
        # Requirements no check ran for (not selected with -k) share one line.
        results = report.requirements()
        unrun = [r.requirement.id for r in results if not r.checks]
        rows = [
            (r.requirement.id, r.requirement.level, r.outcome, one_line(r.detail))
            for r in results
            if r.checks
        ]
        if self._console is not None:
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
            table.add_column("requirement", no_wrap=True)
            table.add_column("level", no_wrap=True)
            table.add_column("outcome", no_wrap=True)
            table.add_column("reason", overflow="ellipsis", no_wrap=True)
            for id_, level, outcome, reason in rows:
                table.add_row(
                    Text(id_, style="bold"),
                    Text(level, style="" if level == "MUST" else "dim"),
                    Text(f"{self.marks[outcome]} {outcome}", style=_STYLES[outcome]),
                    Text(reason),
                )
            self._console.print(table)
        else:
            header = ("requirement", "level", "outcome", "reason")
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
            for row in [header, *rows]:
                cells = [row[i].ljust(widths[i]) for i in range(3)]
                self._write(("  ".join([*cells, row[3]]).rstrip(), ""))
        if unrun:
            self._write(
                (f"{self.marks['skipped']} skipped, no check selected: ", _STYLES["skipped"]),
                (" ".join(unrun), "dim"),
            )

    def _failure(self, result: CheckResult) -> None:
        requirement = result.requirement
        self._write(
            (f"{self.marks['failed']} {requirement.id}", "bold red"),
            (f" ({requirement.level}) {requirement.title}", "bold"),
        )
        self._write((f"  {result.check}: {result.description}", "dim"))
        for label, lines in failure_fields(result, body_limit=_BODY_LIMIT):
            for index, line in enumerate(lines):
                prefix = f"  {label if index == 0 else '':<{_LABEL_WIDTH}} "
                if not line:
                    prefix = prefix.rstrip()
                style = "bold" if label == "reproduce" else ""
                self._write((prefix, "cyan"), (line, style))
