#!/usr/bin/env bash
# Runs Shoal's whole test suite: bootstraps Node >= 22 and pnpm when needed,
# installs from the lockfile, builds every package and runs vitest once over
# all of them. Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
shoal_ensure_deps
cd "$SHOAL_ROOT"
pnpm test "$@"
