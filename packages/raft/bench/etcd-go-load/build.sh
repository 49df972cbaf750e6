#!/usr/bin/env bash
# Builds etcd-go-load (the raft benchmark's client-overhead control) with
# Debian's Go against Debian's etcd sources, in GOPATH mode (no module
# downloads). Needs: apt-get install -y golang-go golang-etcd-server-dev.
# Usage: build.sh [output path, default /usr/local/bin/etcd-go-load]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-/usr/local/bin/etcd-go-load}"
if [ ! -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]; then
  echo "etcd's Go sources are missing: apt-get install -y golang-go golang-etcd-server-dev" >&2
  exit 1
fi
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
cd "$here"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache" go build -o "$out" main.go
echo "built $out"
