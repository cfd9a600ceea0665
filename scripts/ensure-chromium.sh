#!/usr/bin/env bash
# Debian's Chromium for the browser tests (never a Playwright browser download: it cannot work here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ]; then
  echo "ensure-chromium: installing Debian's chromium (about a minute)" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
else
  echo "ensure-chromium: /usr/bin/chromium missing and not root; browser tests will skip (not in CI)" >&2
fi
