#!/usr/bin/env bash
# redis-server binary for the multi-instance tests; the tests start it themselves on a free port.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ]; then
  echo "ensure-redis: installing Debian's redis-server" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  # The package starts a system instance we do not use; the tests run their own.
  (service redis-server stop >/dev/null 2>&1 || true)
else
  echo "ensure-redis: redis-server missing and not root; Redis tests will skip (not in CI)" >&2
fi
