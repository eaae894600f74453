"""The book's pre-registration: every claim's rule and margin, fixed in one file before results.

``book/preregistration.yml`` holds, per chapter and claim key, the test's ``rule`` (``greater``,
``less``, ``equal``, ``noninferior``), its ``margin`` (in the effect's units) and, where the chapter
has one, its ``why`` (the reasoning behind the margin) and, for a row that stands beside a number of the paper
as a reproduction, the ``metric`` it measures (a metric of ``camlib.book.paper``: ``ClaimTable.add`` refuses a
*paper* row whose paper effect is on another metric). ``ClaimTable.add`` reads a registered row's
rule and margin from it and refuses a chapter that states others; a chapter that appears in the file
must register every row it measures. ``history`` reads, from git, when each entry last changed, so a
reader can see what changed after results were visible (the summary page shows it).
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["FILE", "Entry", "entry", "history", "margin", "registered", "rows"]

FILE = Path(__file__).resolve().parents[2] / "book" / "preregistration.yml"
_RULES = ("greater", "less", "equal", "noninferior")


class Entry(NamedTuple):
    """One registered test: its rule, its margin (>= 0), why, in words, and the paper's metric it measures
    (empty when it stands beside no number of the paper)."""

    rule: str
    margin: float
    why: str = ""
    metric: str = ""


@functools.lru_cache(maxsize=4)
def registered(path: str | Path = FILE) -> dict[str, dict[str, Entry]]:
    """``{chapter: {key: Entry}}`` from the pre-registration file (read once per path).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an entry without a known rule, with a negative or non-numeric margin, a metric the paper does
            not report (``camlib.book.paper.METRICS``), or unknown fields; the message names the chapter and the key.
    """
    import yaml

    from camlib.book.paper import METRICS

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be the pre-registration file, but {path} does not exist.")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} must map chapters to their claims, but holds {type(raw).__name__}.")
    out: dict[str, dict[str, Entry]] = {}
    for chapter, claims in raw.items():
        if not isinstance(claims, Mapping):
            raise ValueError(f"{path}: chapter {chapter!r} must map claim keys to entries, but holds {claims!r}.")
        out[chapter] = {}
        for key, e in claims.items():
            where = f"{path.name}: {chapter} / {key}"
            if not isinstance(e, Mapping) or set(e) - {"rule", "margin", "why", "metric"}:
                raise ValueError(f"{where} must hold rule, margin, why and metric only, but holds {e!r}.")
            metric = e.get("metric", "")
            if metric and metric not in METRICS:
                raise ValueError(f"{where}: `metric` must be one of the paper's {sorted(METRICS)}, but got {metric!r}.")
            rule, m = e.get("rule"), e.get("margin", 0)
            if rule not in _RULES:
                raise ValueError(f"{where}: `rule` must be one of {_RULES}, but got {rule!r}.")
            if isinstance(m, bool) or not isinstance(m, (int, float)) or not m >= 0:
                raise ValueError(f"{where}: `margin` must be a number >= 0, but got {m!r}.")
            out[chapter][key] = Entry(rule, float(m), str(e.get("why", "")), str(metric))
    return out


def entry(chapter: str, key: str) -> Entry | None:
    """The registered test of a chapter's row, or None when the chapter is not in the file."""
    chapters = registered()
    if chapter not in chapters:
        return None
    if key not in chapters[chapter]:
        raise ValueError(
            f"`key` {key!r} is measured by {chapter} but not registered: add its rule and margin to "
            f"book/{FILE.name} before looking at its result."
        )
    return chapters[chapter][key]


def margin(chapter: str, key: str) -> float:
    """A registered row's margin (what a chapter's prose and tables quote).

    Raises:
        KeyError: the chapter or the key is not registered.
    """
    found = entry(chapter, key)
    if found is None:
        raise KeyError(f"`chapter` {chapter!r} is not in {FILE.name}.")
    return found.margin


def history(path: str | Path = FILE) -> dict[tuple[str, str], dict[str, Any]]:
    """When each entry last changed: ``{(chapter, key): {"commit", "date", "subject"}}`` from ``git blame``.

    An entry spans the lines from its key to the next key; its last change is the newest commit among them.
    Outside a git checkout, in a shallow clone, or where git is absent, the result is empty: the page then says so.
    """
    path = Path(path)
    try:
        shallow = subprocess.run(
            ["git", "rev-parse", "--is-shallow-repository"], cwd=path.parent, capture_output=True, text=True, timeout=60
        ).stdout.strip()
        if shallow == "true":  # a shallow clone blames its one commit for every line: that is no history
            return {}
        out = subprocess.run(
            ["git", "blame", "--line-porcelain", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    lines, info, current = [], {}, {}
    for row in out.splitlines():
        if row.startswith("\t"):
            lines.append((current["commit"], row[1:]))
        elif len(row) > 40 and row[40:41] == " " and all(c in "0123456789abcdef" for c in row[:40]):
            current = info.setdefault(row[:40], {"commit": row[:40]})
        elif row.startswith("committer-time "):
            current["time"] = int(row.split()[1])
        elif row.startswith("summary "):
            current["subject"] = row[len("summary ") :]
    import datetime as dt

    found: dict[tuple[str, str], dict[str, Any]] = {}
    chapter = key = None
    for commit, text in lines:
        if text and not text.startswith((" ", "#")) and text.rstrip().endswith(":"):
            chapter, key = text.rstrip()[:-1], None
            continue
        if chapter and text.startswith("  ") and not text.startswith("   ") and ":" in text:
            key = text.strip().split(":", 1)[0]
        if chapter and key:
            c = info[commit]
            old = found.get((chapter, key))
            if old is None or c.get("time", 0) > old["time"]:
                found[chapter, key] = {
                    "commit": commit[:10],
                    "time": c.get("time", 0),
                    "date": dt.datetime.fromtimestamp(c.get("time", 0), dt.timezone.utc).strftime("%Y-%m-%d"),
                    "subject": c.get("subject", ""),
                }
    return found


def rows(path: str | Path = FILE) -> list[dict[str, str]]:
    """The pre-registration as table rows (``camlib.book.report.Table`` shows them): chapter, claim key, rule,
    margin, the paper's metric the row stands beside ("-": none), why, and when the entry last changed (date, commit and its subject; "not committed" for a change not
    yet committed)."""
    changed = history(path)
    found = []
    for chapter, claims in registered(path).items():
        for key, e in claims.items():
            h = changed.get((chapter, key))
            when = "n/a (no git history)"
            if h and set(h["commit"]) == {"0"}:
                when = "not committed"
            elif h:
                when = f"{h['date']}, {h['commit'][:7]}: {h['subject']}"
            found.append(
                {
                    "chapter": chapter[:2],
                    "claim": key,
                    "rule": e.rule,
                    "margin": f"{e.margin:g}",
                    "paper's metric": e.metric or "-",
                    "why": e.why or "only the sign counts" if not e.margin else e.why,
                    "last changed": when,
                }
            )
    return found
