"""Every relative link in the README and the docs pages points to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "results").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at whitespace or ')'
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def relative_links(page: Path) -> list[str]:
    text = CODE.sub("", page.read_text(encoding="utf-8"))
    links = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (http:, mailto:) or an anchor on the same page
        links.append(target.split("#", 1)[0])
    return links


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    missing = [t for t in relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("see [there](missing.md), [ok](page.md), `[not](a-link.md)` and [web](https://x.org)\n")
    assert relative_links(page) == ["missing.md", "page.md"]


def indexed(name: str, index: str) -> bool:
    """``name`` (a file in docs/results/) appears in the index, or it is X.json beside an X.md named with ``.json``."""
    if name in index:
        return True
    stem, dot, suffix = name.rpartition(".")
    return any(f"[{stem}.md]" in line and f"`.{suffix}`" in line for line in index.splitlines())


def test_every_result_file_is_indexed():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    results = sorted(p.name for p in (ROOT / "docs" / "results").iterdir() if p.is_file())
    missing = [n for n in results if not indexed(n, index)]
    assert not missing, (
        f"docs/results/ files missing from the results index in docs/README.md: {missing}; "
        "add a line for each: what it measures, the command that produced it, the headline figure"
    )


def test_the_index_check_finds_a_missing_file():
    index = "| [fusion.md](results/fusion.md), `.json` | ... |\n| `join.json` | ... |"
    assert indexed("fusion.json", index) and indexed("join.json", index) and indexed("fusion.md", index)
    assert not indexed("stats.json", index)


def test_readme_is_short_and_speaks_to_users():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 100, "README.md is for users: at most 100 lines (the rest belongs in docs/)"
    jargon = [w for w in ("issue", "session", "mission", "blocked", "Ω", "λ") if w.lower() in text.lower()]
    assert not jargon, f"README.md uses internal terms {jargon}; say it in words a user knows, or move it to docs/"
