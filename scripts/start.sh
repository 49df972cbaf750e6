#!/usr/bin/env bash
# Runs Shoal's main job: bootstraps the toolchain, installs, builds, and
# starts it (see scripts/start.ts for what "start" means today).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
shoal_ensure_deps
cd "$SHOAL_ROOT"
pnpm start "$@"
