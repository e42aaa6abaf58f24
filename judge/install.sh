#!/usr/bin/env bash
# Installs what the judges (`cargo xtask judge`) need, and only what is missing: Debian's
# Chromium, a Python venv with judge/requirements.txt, and judge/node_modules from the committed
# package-lock.json. Each part is redone only when its pinned list changed, so a second run is a
# no-op of a second. Pinned versions only; nothing is downloaded from outside the package
# registries (Playwright's own browser download is never used: playwright-core drives Debian's
# Chromium).
set -euo pipefail
cd "$(dirname "$0")"

fingerprint() { sha256sum "$1" | cut -d' ' -f1; }

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "judge/install.sh: Chromium is missing: sudo apt-get install chromium" >&2
    exit 1
  fi
  echo "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/schemathesis ] ||
  [ "$(cat .venv/requirements.sha256 2>/dev/null)" != "$(fingerprint requirements.txt)" ]; then
  echo "installing the Python judges into judge/.venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  fingerprint requirements.txt >.venv/requirements.sha256
fi

if [ ! -d node_modules ] ||
  [ "$(cat node_modules/package-lock.sha256 2>/dev/null)" != "$(fingerprint package-lock.json)" ]; then
  echo "installing the Node judges into judge/node_modules (npm ci)"
  # No install scripts: none of the judges needs one, and it keeps npm ci offline-safe.
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  fingerprint package-lock.json >node_modules/package-lock.sha256
fi
