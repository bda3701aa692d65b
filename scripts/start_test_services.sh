#!/usr/bin/env bash
# Start every service the test suite talks to (run as root; idempotent).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

bash "$here/setup_postgres.sh"
bash "$here/setup_slurm.sh"
