#!/usr/bin/env bash
# Shoal's toolchain bootstrap. Source it (`. scripts/toolchain.sh`) from any
# script that needs Node >= 22 and pnpm: it puts a suitable `node` and the
# exact pnpm named in package.json's `packageManager` on PATH.
#
# - When the system Node is already >= 22 it is used as is.
# - Otherwise Node 24 is installed from the npm registry (the per-platform
#   `node-<os>-<arch>` package ships the official binary) into .tools/.
# - pnpm is always installed with npm into .tools/, at the exact version of
#   `packageManager` (corepack is not used).
# A second run finds both in place and only checks versions: it is quick and
# downloads nothing.
# Strict mode while bootstrapping; the caller's shell options are restored at the end. (Read
# them with [[ -o ]] here: a $(set +o) subshell would not see errexit.)
_shoal_restore_opts=""
[[ -o errexit ]] || _shoal_restore_opts+="set +e;"
[[ -o nounset ]] || _shoal_restore_opts+="set +u;"
[[ -o pipefail ]] || _shoal_restore_opts+="set +o pipefail;"
set -euo pipefail

SHOAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHOAL_TOOLS="$SHOAL_ROOT/.tools"
SHOAL_NODE_VERSION="24.9.0"
export npm_config_loglevel="${npm_config_loglevel:-error}"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

shoal_log() { printf '[toolchain] %s\n' "$*" >&2; }

shoal_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

shoal_platform_package() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) shoal_log "unsupported OS $(uname -s): install Node >= 22 yourself"; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) shoal_log "unsupported CPU $(uname -m): install Node >= 22 yourself"; return 1 ;;
  esac
  echo "node-$os-$arch"
}

shoal_ensure_node() {
  local system_node
  system_node="$(command -v node || true)"
  if [ -x "$SHOAL_TOOLS/node/bin/node" ]; then
    export PATH="$SHOAL_TOOLS/node/bin:$PATH"
    return 0
  fi
  if [ -n "$system_node" ] && [ "$(shoal_node_major "$system_node")" -ge 22 ]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    shoal_log "neither Node >= 22 nor npm found; install Node.js first"; return 1
  fi
  local pkg
  pkg="$(shoal_platform_package)"
  shoal_log "system Node ${system_node:-(none)} is older than 22; installing Node $SHOAL_NODE_VERSION ($pkg) into .tools/"
  local staging="$SHOAL_TOOLS/.staging-node"
  rm -rf "$staging" && mkdir -p "$staging"
  npm install --prefix "$staging" --no-save --no-package-lock --ignore-scripts "$pkg@$SHOAL_NODE_VERSION" >&2
  mkdir -p "$SHOAL_TOOLS/node/bin"
  cp "$staging/node_modules/$pkg/bin/node" "$SHOAL_TOOLS/node/bin/node.tmp"
  chmod +x "$SHOAL_TOOLS/node/bin/node.tmp"
  mv "$SHOAL_TOOLS/node/bin/node.tmp" "$SHOAL_TOOLS/node/bin/node"
  rm -rf "$staging"
  export PATH="$SHOAL_TOOLS/node/bin:$PATH"
}

shoal_ensure_pnpm() {
  local wanted
  wanted="$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$SHOAL_ROOT/package.json")"
  local bin="$SHOAL_TOOLS/pnpm/node_modules/pnpm/bin/pnpm.cjs"
  if [ -f "$bin" ] && [ "$(node -p 'require(process.argv[1]).version' "$SHOAL_TOOLS/pnpm/node_modules/pnpm/package.json")" = "$wanted" ]; then
    :
  else
    shoal_log "installing pnpm $wanted into .tools/"
    rm -rf "$SHOAL_TOOLS/pnpm" && mkdir -p "$SHOAL_TOOLS/pnpm"
    npm install --prefix "$SHOAL_TOOLS/pnpm" --no-save --no-package-lock --ignore-scripts "pnpm@$wanted" >&2
  fi
  mkdir -p "$SHOAL_TOOLS/bin"
  printf '#!/usr/bin/env bash\nexec node "%s" "$@"\n' "$bin" > "$SHOAL_TOOLS/bin/pnpm"
  chmod +x "$SHOAL_TOOLS/bin/pnpm"
  export PATH="$SHOAL_TOOLS/bin:$PATH"
}

# Installs the workspace's dependencies from the committed lockfile. pnpm
# itself notices when node_modules is already up to date, so repeat runs are
# quick.
shoal_ensure_deps() {
  (cd "$SHOAL_ROOT" && pnpm install --frozen-lockfile --reporter=silent)
}

shoal_ensure_node
shoal_ensure_pnpm
export PATH="$SHOAL_ROOT/node_modules/.bin:$PATH"
eval "$_shoal_restore_opts"
unset _shoal_restore_opts
