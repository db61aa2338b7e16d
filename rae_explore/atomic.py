"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

An interrupted write never leaves a truncated file behind: readers see the old file or the new
one, nothing in between. Every writer of the package (vector files, HDF5, result tables,
reports, caches) goes through :func:`atomic_path`.

:func:`check_writable` tells, before hours of work rather than after, whether such a write can
succeed: the folder exists or can be made and is writable, the temporary name (the file name plus
:data:`TMP_EXTRA` characters) fits the file system's limit, the path is valid UTF-8, and it is
not one of the inputs (``ground-truth X --out X`` would replace its own input).
"""

import contextlib
import os
import tempfile
from pathlib import Path

#: Characters the temporary name adds to a file name: ".{name}." + 8 random + ".tmp".
TMP_EXTRA = 14


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success move it onto ``path`` atomically.

    For writers that need a file name rather than a file object (h5py, faiss). On an exception
    the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the user's usual permissions
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; on success move it onto ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is left untouched.

    Examples
    --------
    >>> with atomic_write("out.csv", "w") as f:  # doctest: +SKIP
    ...     f.write("a,b\\n")
    """
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def _umask():
    """The process umask, read without changing it where /proc allows (os.umask is racy)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(path, inputs=(), what="output"):
    """Raise unless ``path`` can be written by :func:`atomic_path`; return it as a Path.

    Parameters
    ----------
    path : str or Path
    inputs : iterable of str or Path
        Files the run reads: ``path`` must not resolve to any of them.
    what : str
        What ``path`` is, for messages (``"--out"``).

    Raises
    ------
    ValueError
        ``path`` is an input, a folder, not valid UTF-8, or its name is too long once the
        temporary suffix is added (naming the limit and how much shorter it must be).
    PermissionError
        The folder (or the first existing folder above it) is not writable.
    """
    raw = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {raw.encode('utf-8', 'surrogateescape')!r} is not a valid UTF-8 path; "
                         "rename it (or its folder) with UTF-8 characters only") from None
    path = Path(raw)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(path.name)) + TMP_EXTRA > limit:
        raise ValueError(f"{what} {str(path)!r}: the file name is {len(os.fsencode(path.name))} bytes; with the "
                         f"{TMP_EXTRA} characters of its temporary name while it is written it passes this file "
                         f"system's limit of {limit}. Use a name of at most {limit - TMP_EXTRA} bytes")
    real = os.path.realpath(path)
    for inp in inputs:
        if inp is not None and os.path.exists(inp) and os.path.realpath(inp) == real:
            raise ValueError(f"{what} {str(path)!r} is the input file {str(inp)!r}: writing it would replace what "
                             "is being read. Give another output path")
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a folder; give a file name inside it")
    if not folder.is_dir():
        raise ValueError(f"{what} {str(path)!r}: {str(folder)!r} is a file, not a folder; give a path in a folder")
    try:  # a real probe: os.access says yes to root on a read-only mount, or in /sys
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise PermissionError(f"{what} {str(path)!r}: cannot write in the folder {str(folder)!r} ({e.strerror}); "
                              "choose another folder, or change its permissions") from None
    return path
