"""Where effnets keeps what it measured between runs (latency tables): the user's cache directory.

``$EFFNETS_CACHE_DIR`` if set, else the platform's cache directory: ``$XDG_CACHE_HOME/effnets`` or
``~/.cache/effnets`` on Linux, ``~/Library/Caches/effnets`` on macOS, ``%LOCALAPPDATA%\\effnets\\Cache`` on Windows.
Nothing is written until a caller saves a file there.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ENV_VAR = "EFFNETS_CACHE_DIR"


def cache_dir(*parts: str, create: bool = True) -> Path:
    """The cache directory (or a sub-directory ``parts`` of it), created on demand."""
    override = os.environ.get(ENV_VAR)
    if override:
        base = Path(override).expanduser()
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "effnets"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "effnets" / "Cache"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "effnets"
    path = base.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def slug(text: str) -> str:
    """A file-name-safe version of ``text`` ('CPU (x86_64, 2 threads)' -> 'cpu-x86_64-2-threads')."""
    return re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-") or "unnamed"
