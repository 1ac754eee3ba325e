"""The manual builds, and the README stays a short page whose links all lead somewhere.

The manual is ``docs/`` with ``mkdocs.yml``; ``mkdocs build --strict`` fails on a
broken link or anchor, a page missing from the nav, or a snippet file that is gone
(the README's performance table, the annotated default config). The README is the
five-minute tour: at most 250 lines, every relative link an existing file, and the
markers ``benchmarks/report.py --update-readme`` rewrites its table between.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.paths import ROOT

README = ROOT / "README.md"
MAX_README_LINES = 250

FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), an optional "title" after the target
MARKDOWN_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text] (one level of nested brackets)
    r"\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (target "title")
)
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)


def build(site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the manual into ``site``."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # mkdocs-material's banner, not ours
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean"]
        + ["--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class _Resources(HTMLParser):
    """Every address a page loads by itself (scripts, styles, images, fonts, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video"):
            self.loaded.append(values.get("src") or "")
        elif tag == "link" and (values.get("rel") or "") not in ("canonical", "alternate"):
            self.loaded.append(values.get("href") or "")


def test_the_manual_builds_strictly_and_needs_no_network(tmp_path):
    site = tmp_path / "site"
    result = build(site)
    assert result.returncode == 0, (
        f"mkdocs build --strict failed (exit {result.returncode}):\n"
        f"{result.stdout}\n{result.stderr}"
    )
    pages = sorted(p.relative_to(site).as_posix() for p in site.glob("*.html"))
    for page in ("index.html", "getting-started.html", "commands.html", "architecture.html"):
        assert page in pages, f"{page} was not built; built: {pages}"
    webui = (site / "webui.html").read_text(encoding="utf-8")
    for shot in sorted((ROOT / "docs" / "screenshots").glob("*.png")):
        assert f"screenshots/{shot.name}" in webui, f"the Web UI page does not show {shot.name}"
        assert (site / "screenshots" / shot.name).is_file()
    assert not (site / "generate.py").exists(), "docs/generate.py is a tool, not a page"
    # Everything a page loads ships with the site: no web fonts, CDNs or remote images.
    remote = []
    for page in site.rglob("*.html"):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        remote += [f"{page.name}: {url}" for url in parser.loaded if urlsplit(url).netloc]
    assert remote == [], "pages load remote resources:\n" + "\n".join(remote)


def test_the_readme_is_a_short_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it at most {MAX_README_LINES} "
        "and move the details into the manual (docs/)"
    )


def readme_links(text: str) -> list[str]:
    """The link and image targets in Markdown text, outside code."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    return MARKDOWN_LINK.findall(prose) + HTML_LINK.findall(prose)


def test_readme_links_are_found_in_prose_and_not_in_code():
    text = (
        'See [the manual](docs/index.md) and ![a picture](docs/a.png "title").\n'
        '`[not](a-link.md)`\n```sh\n[nor](this.md)\n```\n<a href="x/y.md#z">x</a>\n'
    )
    assert readme_links(text) == ["docs/index.md", "docs/a.png", "x/y.md#z"]


def test_every_relative_link_in_the_readme_points_to_a_file():
    links = readme_links(README.read_text(encoding="utf-8"))
    assert links, "no links found in README.md: is the pattern broken?"
    missing = []
    for link in links:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path:  # a web address, or "#anchor"
            continue
        target = (ROOT / unquote(parts.path)).resolve()
        if not target.is_relative_to(ROOT) or not target.exists():
            missing.append(link)
    assert missing == [], f"README.md links to files that do not exist: {missing}"


def test_the_readme_keeps_the_benchmark_table_markers():
    """``benchmarks/report.py --update-readme`` rewrites what stands between them, and
    the manual's Performance page includes the README's table through its snippet markers."""
    source = (ROOT / "benchmarks" / "report.py").read_text(encoding="utf-8")
    begin = re.search(r'^README_BEGIN = "(.+)"$', source, re.MULTILINE).group(1)
    end = re.search(r'^README_END = "(.+)"$', source, re.MULTILINE).group(1)
    text = README.read_text(encoding="utf-8")
    assert text.count(begin) == 1 and text.count(end) == 1
    snippet_start = text.index("--8<-- [start:performance]")
    snippet_end = text.index("--8<-- [end:performance]")
    assert snippet_start < text.index(begin) < text.index(end) < snippet_end
