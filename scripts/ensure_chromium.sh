#!/bin/sh
# Install Debian's chromium + chromium-driver when missing (used by `make test` for the
# real-browser tests of the exported HTML reports, tests/test_browser.py).
#
# Needs root or passwordless sudo. If the packages cannot be installed (no rights, no network),
# this says so and exits 0: the browser tests are then skipped, and pytest's summary (-ra)
# names the reason. On CI (CI=true) it exits 1 instead, and the browser tests fail rather than
# skip: a CI run must not pass without them. It never downloads a browser from anywhere but the
# Debian archive.
give_up() {
    # $1: what went wrong; outside CI the browser tests will be skipped
    echo "ensure_chromium: $1" >&2
    if [ "$CI" = "true" ]; then
        echo "  CI=true: failing (the browser tests must run on CI)" >&2
        exit 1
    fi
    echo "  browser tests will be skipped" >&2
    exit 0
}
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        give_up "chromium/chromedriver are missing and this user cannot install them;
  run as root: apt-get install -y chromium chromium-driver"
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    give_up "no apt-get (not Debian/Ubuntu); install chromium and its chromedriver yourself (both on PATH)"
fi
echo "ensure_chromium: installing chromium chromium-driver (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; then
    # the package lists may be stale or absent: refresh them once and retry
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    if ! $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; then
        give_up "apt-get could not install chromium chromium-driver (offline?)"
    fi
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    give_up "chromium chromium-driver were installed but chromium/chromedriver are not on PATH"
fi
chromium --version 2>/dev/null || true
