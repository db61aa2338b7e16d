"""rae_explore.atomic: writes land whole or not at all."""

import os

import pytest

from rae_explore.atomic import atomic_path, atomic_write


def test_atomic_write_replaces_only_on_success(tmp_path):
    p = tmp_path / "sub" / "out.txt"
    with atomic_write(p, "w") as f:
        f.write("first")
    with pytest.raises(KeyError), atomic_write(p, "w") as f:
        f.write("half")
        raise KeyError("interrupted")
    assert p.read_text() == "first" and os.listdir(p.parent) == ["out.txt"]  # no temporary file left


def test_atomic_path_gives_the_usual_permissions(tmp_path):
    p = tmp_path / "x.bin"
    with atomic_path(p) as tmp:
        assert tmp.parent == p.parent and tmp != p
        tmp.write_bytes(b"abc")
    umask = os.umask(0)
    os.umask(umask)
    assert p.read_bytes() == b"abc" and (p.stat().st_mode & 0o777) == (0o666 & ~umask)
