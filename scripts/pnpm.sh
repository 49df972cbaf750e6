#!/usr/bin/env bash
# Runs pnpm with Shoal's toolchain on PATH, e.g. `bash scripts/pnpm.sh bench hashring --smoke`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
shoal_ensure_deps
cd "$SHOAL_ROOT"
pnpm "$@"
