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


def test_check_writable_says_what_is_wrong_before_any_write(tmp_path):
    from rae_explore.atomic import check_writable

    inp = tmp_path / "in.fvecs"
    inp.write_bytes(b"x")
    assert check_writable(tmp_path / "new" / "out.csv") == tmp_path / "new" / "out.csv"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    with pytest.raises(ValueError, match="is the input file"):
        check_writable(tmp_path / "." / "in.fvecs", inputs=[inp])
    with pytest.raises(ValueError, match="at most 241 bytes"):
        check_writable(tmp_path / ("a" * 245))
    with pytest.raises(ValueError, match="not a valid UTF-8 path"):
        check_writable(str(tmp_path / "b\udcff.csv"))
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_writable(inp / "out.csv")
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no /sys")
    with pytest.raises(PermissionError, match="cannot write in the folder '/sys/kernel'"):
        check_writable("/sys/kernel/out.csv")
    assert sorted(os.listdir(tmp_path)) == ["in.fvecs"]
