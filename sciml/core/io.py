"""Atomic file writing and small I/O helpers shared by the data and training layers."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sciml.core.errors import DataError

__all__ = ["atomic_path", "write_json", "environment"]


def _prepare_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, NotADirectoryError) as exc:
        raise DataError(
            f"output path {path} is not writable ({exc.strerror or exc}); choose another output path"
        ) from None
    if not os.access(path.parent, os.W_OK):
        raise DataError(f"output path {path} is not writable (permission denied); choose another output path")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception (or a killed process) the final path is untouched and the
    temporary file is removed (or, if the process died, left with a ``.NAME.PID.XXXX.tmp``
    name that no reader mistakes for a finished file, and removed by the next write of
    ``path`` once that PID no longer runs).
    """
    final = Path(path)
    _prepare_parent(final)
    _remove_stale_temporaries(final)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=f"{suffix}.tmp", dir=final.parent)
    except OSError as exc:
        raise DataError(
            f"output path {final} is not writable ({exc.strerror or exc}); choose another output path"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the finished file the permissions open() would
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_stale_temporaries(final: Path) -> None:
    """Remove ``.NAME.PID.XXXX.tmp`` files of ``final`` left by a killed writer (its PID no longer runs)."""
    prefix = f".{final.name}."
    for tmp in final.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid_text = tmp.name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue  # a writer that is still running (pid-less names are from a killed older writer)
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def environment() -> dict[str, Any]:
    """Versions and hardware of this run, recorded in checkpoints, files and benchmark JSON."""
    import platform

    import torch

    from sciml._version import __version__

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "sciml": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": "cuda" if gpu else "cpu",
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
    }
