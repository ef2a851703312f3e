"""Files that hold personal data at rest: readable by the service's own user only.

Uploaded member files (and the CSV an xlsx becomes) carry ID numbers and phones: each is made
0600 inside a 0700 folder, whatever the process's umask, and is deleted when its import ends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` (and its missing parents) as a folder only its owner can enter."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_open(path: Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
    """Open ``path`` for writing (``"w"`` or ``"wb"``), created 0600 (an existing file is truncated
    and made 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def remove_quietly(*paths: str | Path | None) -> None:
    """Delete each file that exists; a missing one is no error."""
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)
