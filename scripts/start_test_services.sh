#!/usr/bin/env bash
# Start every service the test suite talks to (run as root; idempotent).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

bash "$here/setup_postgres.sh"
bash "$here/setup_slurm.sh"

# Graphviz's `dot` draws `mc graph --format svg|png` and the docs' flow picture.
if ! command -v dot >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq graphviz >/dev/null
fi

# Headless Chromium and its driver: the status page's tests (tests/ui) drive
# `mc ui` in a real browser through Selenium with the system chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
fi
