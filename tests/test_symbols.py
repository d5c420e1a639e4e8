"""Symbols the pages show render with Debian chromium's default fonts (DejaVu, Liberation): no emoji, which those
fonts lack (a check mark became an empty box). Icons come from Streamlit's bundled Material font instead."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Emoji and pictograph blocks, dingbats and the emoji variation selector: no default Debian font has them.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")


def test_no_emoji_in_what_the_pages_show():
    found = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("effnets/**/*.py"), ROOT / "app.py"]:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if EMOJI.search(line):
                found.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:80]}")
    assert not found, "\n".join(found)
