#!/usr/bin/env bash
# Locates (or, as root, installs with apt) Chromium and ChromeDriver for the dashboard's
# browser test, exports their paths, and runs the command given, if any:
#
#   scripts/browser.sh                      # just make sure they are there
#   scripts/browser.sh cargo test --release -p tokengate-dashboard --test browser
#
# Exits non-zero with a clear message when they cannot be found or installed: the
# browser test must fail, never skip.
set -euo pipefail

find_first() {
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

locate() {
    CHROMIUM="${TOKENGATE_CHROMIUM:-$(find_first chromium chromium-browser google-chrome || true)}"
    CHROMEDRIVER="${TOKENGATE_CHROMEDRIVER:-$(find_first chromedriver || true)}"
}

locate
if [ -z "$CHROMIUM" ] || [ -z "$CHROMEDRIVER" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "browser.sh: installing chromium and chromium-driver with apt-get" >&2
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >&2; then
            echo "browser.sh: ERROR: apt-get could not install chromium chromium-driver" >&2
            exit 1
        fi
        locate
    fi
fi
if [ -z "$CHROMIUM" ] || [ -z "$CHROMEDRIVER" ]; then
    echo "browser.sh: ERROR: Chromium and ChromeDriver are needed for the dashboard browser test." >&2
    echo "  found chromium: '${CHROMIUM:-none}', chromedriver: '${CHROMEDRIVER:-none}'." >&2
    echo "  Install them (Debian: apt-get install chromium chromium-driver, as root)" >&2
    echo "  or set TOKENGATE_CHROMIUM and TOKENGATE_CHROMEDRIVER to their paths." >&2
    exit 1
fi
if ! "$CHROMEDRIVER" --version >/dev/null 2>&1; then
    echo "browser.sh: ERROR: $CHROMEDRIVER does not run" >&2
    exit 1
fi
export TOKENGATE_CHROMIUM="$CHROMIUM" TOKENGATE_CHROMEDRIVER="$CHROMEDRIVER"
echo "browser.sh: chromium=$CHROMIUM chromedriver=$CHROMEDRIVER" >&2
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
