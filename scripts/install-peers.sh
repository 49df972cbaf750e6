#!/usr/bin/env bash
# Installs the system programs that some benchmark suites compare Shoal with.
# Debian/Ubuntu only; run as root. Tests never need these; smoke benchmark
# runs skip a missing peer, full runs stop and name it.
set -euo pipefail
apt-get update
apt-get install -y etcd-server python3-xapian
