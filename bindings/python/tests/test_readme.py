"""The README's Python snippet runs as written (from the repository root)."""

from __future__ import annotations

import os
import re

from conftest import REPO


def test_the_readme_snippet_runs():
    text = (REPO / "bindings" / "python" / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        scope: dict = {}
        exec(compile(snippet, "README.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    assert scope["report"].passed
    assert scope["proba"].shape == (360, 10)
