"""The documentation's cross-references resolve: a quoted section names a heading of the file it names, a link a file.

The docs cite each other as ``docs/training.md``, "Realistic LR" (a heading's first words; the model cards, the
code's docstrings and the docs themselves do), and link with relative Markdown links. A section that is renamed or
moved to another file leaves such a reference pointing at nothing; these tests name each one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundles" / "rmisr"
#: the files whose text may cite a section: the docs, the model cards, the code's docstrings and comments (not the
#: tests: their strings are code)
CITING = sorted(
    path
    for pattern in (
        "*.md",
        "docs/*.md",
        "bundles/rmisr/**/*.md",
        "monai_rmisr/**/*.py",
        "benchmarks/*.py",
    )
    for path in ROOT.glob(pattern)
)
#: the Markdown files whose relative links must resolve
LINKING = sorted({*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), *BUNDLE.glob("**/*.md")})
#: ``docs/NAME.md``, "Section title" (backquotes, a comma or the word "section" between them), or a Markdown link to a
#: page then its section: ``[inference.md](inference.md), "DICOM out"``
SECTION_REFERENCE = re.compile(
    r"(docs/[\w-]+\.md|\[[\w-]+\.md\]\([\w./-]+\.md\))`{0,2},?\s*(?:section\s+)?\"([^\"]+)\""
)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _words(text: str) -> str:
    """A title as compared: no backquotes, one space for each run of blanks (titles wrap), lower case."""
    return re.sub(r"\s+", " ", text.replace("`", "")).strip().rstrip(".").lower()


def _headings(markdown: Path) -> list[str]:
    """The file's headings, outside code blocks (a bash comment there starts with ``#`` too)."""
    headings, in_code = [], False
    for line in markdown.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            headings.append(_words(line.lstrip("#")))
    return headings


def _sections(markdown: Path) -> list[str]:
    """What a citation may name in the file: its headings, and the bold words that open a paragraph
    (``**DICOM out** is ...``, the docs' run-in sections)."""
    text = markdown.read_text()
    return _headings(markdown) + [_words(lead) for lead in re.findall(r"^\*\*([^*]+)\*\*", text, flags=re.M)]


def _cited_file(name: str, citing: Path) -> Path | None:
    """``docs/NAME.md`` as its citer means it: the repository's, or (in the bundle) the bundle's own ``docs/``; a
    link's target relative to the citing file."""
    link = re.fullmatch(r"\[[\w-]+\.md\]\(([\w./-]+\.md)\)", name)
    if link:
        target = (citing.parent / link.group(1)).resolve()
        return target if target.is_file() else None
    for base in (ROOT, BUNDLE) if BUNDLE in citing.parents else (ROOT,):
        if (base / name).is_file():
            return base / name
    return None


def section_references() -> list[tuple[Path, int, str, str]]:
    """Each section reference in :data:`CITING`: (file, line, cited file, title)."""
    found = []
    for path in CITING:
        text = path.read_text()
        for match in SECTION_REFERENCE.finditer(text):
            found.append((path, text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2)))
    return found


def test_the_citing_files_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in CITING}
    assert {"README.md", "docs/training.md", "bundles/rmisr/docs/rmisr_bl_x4.md", "monai_rmisr/hardware.py"} <= names
    assert len(section_references()) > 40  # the model cards alone cite docs/experiments.md and docs/training.md often


def test_every_cited_section_is_a_heading_of_the_file_named():
    broken = []
    for path, line, name, title in section_references():
        cited = _cited_file(name, path)
        if cited is None:
            broken.append(f"{path.relative_to(ROOT)}:{line}: {name} does not exist")
        elif not any(section.startswith(_words(title)) for section in _sections(cited)):
            broken.append(f'{path.relative_to(ROOT)}:{line}: {name} has no section "{_words(title)}"')
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("markdown", LINKING, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_names_a_file_that_exists(markdown: Path):
    broken = []
    for target in MARKDOWN_LINK.findall(markdown.read_text()):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (markdown.parent / file).resolve() if file else markdown
        if not resolved.exists():
            broken.append(f"{target}: no {resolved}")
        elif anchor and resolved.suffix == ".md":
            slugs = {re.sub(r"[^\w\- ]", "", heading).replace(" ", "-") for heading in _headings(resolved)}
            if anchor not in slugs:
                broken.append(f"{target}: {resolved.name} has no heading with that anchor")
    assert not broken, "\n".join(broken)


def test_a_moved_section_is_caught():
    """The check itself: a reference to a section of the wrong file, or to no section, is reported."""
    headings = _headings(ROOT / "docs" / "training.md")
    assert any(heading.startswith(_words("Realistic LR")) for heading in headings)
    assert not any(heading.startswith(_words("x4: the strongest edges")) for heading in headings)  # experiments.md
    assert any(
        heading.startswith(_words("x4: the strongest edges")) for heading in _headings(ROOT / "docs" / "experiments.md")
    )
    assert not any(heading.startswith("# the default short run") for heading in headings)  # a bash comment
    assert "dicom out" in _sections(ROOT / "docs" / "inference.md")  # a run-in section: **DICOM out** is ...
    viewer = ROOT / "docs" / "viewer.md"
    cited = [(name, title) for path, _, name, title in section_references() if path == viewer]
    assert ("[inference.md](inference.md)", "DICOM out") in cited  # a link, then its section
