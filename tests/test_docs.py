"""The front page and docs/ hold together: README.md stays short and links every docs page, every link and anchor
leads somewhere, every script named as a command exists and answers ``--help``, and every figure of the front page
is backed by a docs page (where it sits with the command that measured it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 250

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
COMMAND = re.compile(r"(?:\.venv/bin/)?python3? ((?:[\w-]+/)*[\w-]+\.py)\b")
SCRIPT_PATH = re.compile(r"`((?:bench|docs)/[\w-]+\.py)")
FIGURE = re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)? ?%|\d+\.\d+×|0\.\d+)")


def outside_code(text: str) -> str:
    """The text without fenced code blocks (headings inside them are shell comments)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but - and _), spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", outside_code(page.read_text()), flags=re.M)}


def links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(page.read_text())]


def test_readme_is_a_front_page_that_links_every_docs_page() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES}: move detail to docs/)"
    linked = {(ROOT / target.split("#")[0]).resolve() for target in links(README) if not target.startswith("http")}
    unlinked = [page.name for page in DOCS if page.resolve() not in linked]
    assert not unlinked, f"docs pages not linked from README.md: {unlinked}"
    assert "make test" in README.read_text(), "the test command CI runs must stay in README.md"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_anchor_leads_somewhere(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"(https?|mailto):", target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target} (no such heading in {destination.name})")
    assert not broken, f"{page.name}: broken links: {broken}"


def named_scripts() -> list[str]:
    """The files README.md and docs/ name: after ``python`` or as a `bench/...py` or `docs/...py` path."""
    names: set[str] = set()
    for page in PAGES:
        text = page.read_text()
        names.update(COMMAND.findall(text))
        names.update(SCRIPT_PATH.findall(text))
    return sorted(names)


def is_script(path: Path) -> bool:
    """A file that runs (a ``__main__`` block), not a module the benches import (bench/bench_common.py, ...)."""
    return 'if __name__ == "__main__":' in path.read_text()


def test_every_script_named_in_the_docs_exists_and_answers_help() -> None:
    named = named_scripts()
    assert "03_launch_classifier.py" in named and any(s.startswith("bench/") for s in named)
    missing = [s for s in named if not (ROOT / s).is_file()]
    assert not missing, f"scripts named in README.md or docs/ that do not exist: {missing}"
    run_by_docs = {name for page in PAGES for name in COMMAND.findall(page.read_text())}
    not_runnable = sorted(s for s in run_by_docs if not is_script(ROOT / s))
    assert not not_runnable, f"files the docs run with python that have no __main__ block: {not_runnable}"
    scripts = [s for s in named if is_script(ROOT / s)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    running = {s: subprocess.Popen([sys.executable, s, "--help"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in scripts}
    failed = []
    for script, process in running.items():
        out, err = process.communicate(timeout=300)
        if process.returncode != 0 or "usage" not in out.lower():
            failed.append(f"{script}: exit {process.returncode}: {err.strip().splitlines()[-1:] or out[:200]}")
    assert not failed, "`--help` failed: " + "; ".join(failed)


def test_every_figure_of_the_front_page_is_backed_by_a_docs_page() -> None:
    docs_text = "\n".join(page.read_text() for page in DOCS)
    figures = set(FIGURE.findall(outside_code(README.read_text())))
    assert figures, "the front page names no figure"
    lost = sorted(f for f in figures if f not in docs_text)
    assert not lost, f"figures on README.md found in no docs page (each belongs beside its command there): {lost}"


def test_every_module_has_a_line_in_the_layout() -> None:
    layout = (ROOT / "docs" / "contributing.md").read_text()
    missing = sorted(path.name for path in ROOT.glob("functions_*.py") if path.name not in layout)
    assert not missing, f"modules missing from docs/contributing.md's layout: {missing}"
