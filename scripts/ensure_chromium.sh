#!/bin/sh
# Install Debian's chromium + chromium-driver when missing (used by `make test` for the
# real-browser tests of the exported HTML reports). Needs root or passwordless sudo.
set -e
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "ensure_chromium: chromium is missing and this user cannot install it;" >&2
        echo "  run: apt-get install -y chromium chromium-driver   (browser tests will be skipped)" >&2
        exit 0
    fi
fi
echo "ensure_chromium: installing chromium chromium-driver (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
