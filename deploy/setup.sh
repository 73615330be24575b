#!/usr/bin/env bash
# Set up harvest in this checkout: a virtual environment at .venv/ with the
# pinned runtime and test dependencies and harvest itself (editable).
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.harvest-installed
want=$(cat requirements.txt tests/requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -r requirements.txt -r tests/requirements.txt
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
fi
# Listing pages are scrolled in Chromium. Playwright's own download is not
# always reachable, so Debian's chromium is the default browser.
if ! command -v chromium >/dev/null 2>&1 && ! ls "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium-* >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium (Debian package) for listing pages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "warning: no Chromium found; install Debian's chromium or run" \
             "'.venv/bin/playwright install chromium', or crawl with -s HARVEST_BROWSER=0" >&2
    fi
fi
# scrapyd's credentials, made once, owner-only (harvest scrapyd and schedule read them).
creds=$(.venv/bin/harvest scrapyd --credentials)
echo "harvest is set up in .venv ($(.venv/bin/harvest --version)); scrapyd credentials in $creds"
