"""The README's table of contents lists every top-level section and every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.test_deploy_files import github_anchor, readme_anchors

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_contents_lists_every_section_in_order() -> None:
    contents = README.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- \[(.+)\]\(#([^)]+)\)$", contents, flags=re.M)
    sections = [line[3:] for line in README.splitlines() if line.startswith("## ")]
    sections.remove("Contents")
    assert [title for title, _ in listed] == sections
    assert all(anchor == github_anchor(title) for title, anchor in listed)


def test_every_internal_link_points_at_a_heading() -> None:
    anchors = readme_anchors(README)
    links = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert links and links <= anchors, sorted(links - anchors)
