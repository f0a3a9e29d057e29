#!/usr/bin/env bash
# Builds every tool pinned in tools/go/go.mod (`go get -tool`) into the repository's bin/ folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$root/bin"
cd "$here"
GOBIN="$root/bin" go install -mod=readonly -trimpath -ldflags="-s -w" tool
echo "go tools built into bin/: $(go list -mod=readonly -f '{{.Name}}' tool | wc -l) packages"
