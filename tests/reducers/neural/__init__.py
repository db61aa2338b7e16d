"""Tests of rae_explore.reducers.neural (a package, so that test_base.py here and tests/reducers/test_base.py get distinct module names)."""
