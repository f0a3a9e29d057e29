#!/usr/bin/env bash
# Builds every tool pinned (`go get -tool`) in the Go module at $1 into the repository's bin/ folder.
set -euo pipefail
module_dir=${1:?usage: build-go-tools.sh MODULE_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/bin"
cd "$root/$module_dir"
GOBIN="$root/bin" go install -mod=readonly -trimpath -ldflags="-s -w" tool
echo "built $(go list -mod=readonly tool | wc -l) tool package(s) of $module_dir into bin/"
