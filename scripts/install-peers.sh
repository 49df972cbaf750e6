#!/usr/bin/env bash
# Installs the system programs that some benchmark suites compare Shoal with.
# Debian/Ubuntu only; run as root. Tests never need these; smoke benchmark
# runs skip a missing peer, full runs stop and name it.
# - etcd-server, etcd-client: the raft suite's peer and `etcdctl check perf`;
# - golang-go, golang-etcd-server-dev: to build etcd-go-load, the raft suite's
#   client-overhead control (etcd's own Go client), into /usr/local/bin;
# - python3-xapian: the bm25 suite's peer;
# - dataset-fashion-mnist: real image vectors for the hnsw suite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
apt-get update
apt-get install -y etcd-server etcd-client golang-go golang-etcd-server-dev python3-xapian dataset-fashion-mnist
bash "$here/../packages/raft/bench/etcd-go-load/build.sh"
