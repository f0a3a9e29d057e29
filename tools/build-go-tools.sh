#!/usr/bin/env bash
# Builds the tools pinned (`go get -tool`) in the Go module at $1 into the repository's bin/ folder:
# all of them, or only those named after it (by binary name, e.g. `conftest kustomize`).
#
#   tools/build-go-tools.sh MODULE_DIR [NAME...]
set -euo pipefail
module_dir=${1:?usage: build-go-tools.sh MODULE_DIR [NAME...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/bin"
cd "$root/$module_dir"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"  # never download another Go toolchain

# The binary `go install` makes of a package: its last path element, or the one before a /vN.
binary_of() {
  local pkg=$1 last=${1##*/}
  if [[ $last =~ ^v[0-9]+$ ]]; then pkg=${pkg%/*}; last=${pkg##*/}; fi
  echo "$last"
}

mapfile -t all < <(go list -mod=readonly tool)
packages=()
if [ $# -eq 0 ]; then
  packages=("${all[@]}")
else
  for name in "$@"; do
    match=
    for pkg in "${all[@]}"; do
      if [ "$(binary_of "$pkg")" = "$name" ]; then packages+=("$pkg"); match=1; fi
    done
    if [ -z "$match" ]; then
      echo "build-go-tools.sh: $module_dir pins no tool named $name (it pins: ${all[*]})" >&2
      exit 2
    fi
  done
fi
for pkg in "${packages[@]}"; do
  start=$SECONDS
  GOBIN="$root/bin" go install -mod=readonly -trimpath -ldflags="-s -w" "$pkg"
  echo "built $(binary_of "$pkg") ($pkg) of $module_dir into bin/ in $((SECONDS - start))s"
done
