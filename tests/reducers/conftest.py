"""Fixtures shared by the reducer tests."""

import pytest


@pytest.fixture(scope="module")
def X(tiny):
    return tiny.xb[:150]
