#!/bin/sh
# Install Debian's chromium + chromium-driver when missing (used by `make test` for the
# real-browser tests of the exported HTML reports, tests/test_browser.py).
#
# Needs root or passwordless sudo. If the packages cannot be installed (no rights, no network),
# this says so and exits 0: the browser tests are then skipped, and pytest's summary (-ra)
# names the reason. It never downloads a browser from anywhere but the Debian archive.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "ensure_chromium: chromium/chromedriver are missing and this user cannot install them;" >&2
        echo "  run as root: apt-get install -y chromium chromium-driver   (browser tests will be skipped)" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no apt-get (not Debian/Ubuntu); install chromium and its chromedriver yourself" >&2
    echo "  (browser tests will be skipped until both are on PATH)" >&2
    exit 0
fi
echo "ensure_chromium: installing chromium chromium-driver (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; then
    # the package lists may be stale or absent: refresh them once and retry
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    if ! $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; then
        echo "ensure_chromium: apt-get could not install chromium chromium-driver (offline?);" >&2
        echo "  browser tests will be skipped" >&2
        exit 0
    fi
fi
chromium --version 2>/dev/null || true
