#!/usr/bin/env bash
# Headless Chromium and ChromeDriver (Debian's packages) for the browser tests (`tests/tests/browser.rs`).
#
#   infra/scripts/browser.sh --install-only  install Debian's chromium and chromium-driver if
#                                            /usr/bin/chromium or /usr/bin/chromedriver is missing
#   infra/scripts/browser.sh --check         only say whether both are there (exit 1 if not)
#
# Idempotent and quick when both are installed. Uses apt-get noninteractively; runs
# `apt-get update` only if the install fails without it. Needs root (or sudo) to install.
# The tests start their own chromedriver on a free loopback port, and Chromium with
# --headless --no-sandbox --disable-gpu and no background networking (tests/src/browser.rs).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PACKAGES=(chromium chromium-driver)

installed() {
    [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]
}

apt() {
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "error: installing ${PACKAGES[*]} needs root (or sudo)" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

install() {
    if installed; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || {
        echo "error: $CHROMIUM or $CHROMEDRIVER is missing and apt-get is not available to install ${PACKAGES[*]}" >&2
        exit 1
    }
    echo "installing Debian's ${PACKAGES[*]} (quiet)" >&2
    if ! apt install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; then
        echo "apt-get install failed; running apt-get update and trying again" >&2
        apt update -qq >/dev/null || { echo "error: apt-get update failed" >&2; exit 1; }
        apt install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null || {
            echo "error: apt-get install ${PACKAGES[*]} failed (see the apt-get output above)" >&2
            exit 1
        }
    fi
    installed || { echo "error: $CHROMIUM or $CHROMEDRIVER still missing after installing ${PACKAGES[*]}" >&2; exit 1; }
    echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo chromium), $("$CHROMEDRIVER" --version 2>/dev/null | head -n1 || echo chromedriver)" >&2
}

case "${1:-}" in
    --install-only) install; exit 0 ;;
    --check)
        if installed; then echo "ok: $CHROMIUM and $CHROMEDRIVER"; exit 0; fi
        echo "missing: $CHROMIUM or $CHROMEDRIVER; run infra/scripts/browser.sh --install-only" >&2
        exit 1 ;;
    -h|--help|"") sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
