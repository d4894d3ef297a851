"""The documentation: a README a newcomer reads in minutes, a page per command with its example,
and a site that builds with no broken link, anchor or page left out of its navigation."""

import os
import subprocess
import sys

from support import ROOT

README_MAX_LINES = 250


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= README_MAX_LINES


def test_every_command_has_a_page_with_its_example():
    from deploytool.cli import main
    from deploytool.cli.help_texts import EXAMPLES

    pages = {path.stem: path.read_text() for path in (ROOT / "docs" / "commands").glob("*.md")}
    assert sorted(pages) == sorted(main.commands)
    missing = [command for command, examples in EXAMPLES.items()
               if not all(example in pages[command] for example in examples)]
    assert missing == []


def test_the_site_builds_strictly(tmp_path):
    """mkdocs --strict with mkdocs.yml's validation: a link to a missing page or anchor, or a page
    not in the navigation, fails the build."""
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                            str(tmp_path / "site"), "--config-file", str(ROOT / "mkdocs.yml")],
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, build.stderr[-3000:]
    assert (tmp_path / "site" / "commands" / "convert" / "index.html").exists()
