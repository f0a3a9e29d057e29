#!/usr/bin/env bash
# Build the local Kubernetes control-plane binaries from pinned Go modules.
#
#   tools/kube/build.sh [--force] [--check] [MODULE...]
#
# MODULE is one or more of: kubernetes etcd kwok (default: all).
# Outputs go to $MERIDIAN_KUBE_BIN (default: <repo>/bin):
#   kubernetes -> kube-apiserver kube-controller-manager kube-scheduler kubectl
#                 (kubectl from the same module, so the client matches the server)
#   etcd       -> etcd
#   kwok       -> kwok, kwok-stages.yaml (kwok's default node/pod Stages,
#                 taken from the pinned module: the kwok binary has none built in)
#
# Idempotent: a module is rebuilt only when its go.mod/go.sum, the Go version
# or BUILD_REV (bump it when changing flags/targets here) changed, or one of
# its outputs is missing; stamps live in $BIN/.kube-build/. A no-op run ~0.1s.
#   --force  rebuild even if up to date
#   --check  build nothing; exit 1 if any selected module is stale
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${MERIDIAN_KUBE_BIN:-$ROOT/bin}"
STAMPS="$BIN/.kube-build"

force=0 check=0 mods=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --check) check=1 ;;
    -h|--help) awk 'NR>1 && !/^#/ {exit} NR>1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    kubernetes|etcd|kwok) mods+=("$a") ;;
    *) echo "build.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#mods[@]} -gt 0 ] || mods=(kubernetes etcd kwok)

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
# Never let the go command switch toolchains behind our back unless asked.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# name -> "binary=package ..." (binaries built one by one to time them;
# they share the build cache so the later ones are cheap)
targets() {
  case "$1" in
    kubernetes) echo "kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver" \
                     "kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager" \
                     "kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler" \
                     "kubectl=k8s.io/kubernetes/cmd/kubectl" ;;
    etcd)       echo "etcd=go.etcd.io/etcd/server/v3" ;;
    kwok)       echo "kwok=sigs.k8s.io/kwok/cmd/kwok" ;;
  esac
}

ldflags_for() {
  local mod="$1" f="-s -w"
  if [ "$mod" = kubernetes ]; then
    local v t maj min
    v="$(cd "$HERE/kubernetes" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
    # build date = module publication time, so builds are reproducible
    t="$(cd "$HERE/kubernetes" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
    maj="${v#v}"; maj="${maj%%.*}"
    min="${v#v*.}"; min="${min%%.*}"
    local p
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      f+=" -X $p.gitVersion=$v -X $p.gitMajor=$maj -X $p.gitMinor=$min"
      f+=" -X $p.gitTreeState=clean -X $p.gitCommit= -X $p.buildDate=$t"
    done
  fi
  echo "$f"
}

# Bump when a change to this script must force rebuilds (flags, targets, outputs).
BUILD_REV=3

stamp_for() {
  { echo "rev=$BUILD_REV"; cat "$HERE/$1/go.mod" "$HERE/$1/go.sum"; go version; go env GOOS GOARCH
    echo "CGO_ENABLED=$CGO_ENABLED"; } | sha256sum | cut -d' ' -f1
}

up_to_date() {
  local mod="$1" t
  [ -f "$STAMPS/$mod" ] && [ "$(cat "$STAMPS/$mod")" = "$(stamp_for "$mod")" ] || return 1
  for t in $(targets "$mod"); do [ -x "$BIN/${t%%=*}" ] || return 1; done
  [ "$mod" != kwok ] || [ -s "$BIN/kwok-stages.yaml" ]
}

rc=0
mkdir -p "$BIN"
for mod in "${mods[@]}"; do
  if [ $force = 0 ] && up_to_date "$mod"; then
    echo "build.sh: $mod up to date"
    continue
  fi
  if [ $check = 1 ]; then echo "build.sh: $mod is stale"; rc=1; continue; fi
  ld="$(ldflags_for "$mod")"
  for t in $(targets "$mod"); do
    name="${t%%=*}" pkg="${t#*=}"
    start=$EPOCHREALTIME
    (cd "$HERE/$mod" && go build -trimpath -ldflags "$ld" -o "$BIN/$name.tmp" "$pkg")
    mv -f "$BIN/$name.tmp" "$BIN/$name"
    printf 'build.sh: built %-24s %6.1fs %4d MiB\n' "$name" \
      "$(awk "BEGIN{print $EPOCHREALTIME - $start}")" $(( $(stat -c %s "$BIN/$name") / 1048576 ))
  done
  if [ "$mod" = kwok ]; then
    # same set kwokctl uses: node-initialize, node-heartbeat-with-lease, pod-ready/complete/delete
    d="$(cd "$HERE/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"; cat "$d/$f"
    done > "$BIN/kwok-stages.yaml.tmp"
    mv -f "$BIN/kwok-stages.yaml.tmp" "$BIN/kwok-stages.yaml"
  fi
  mkdir -p "$STAMPS"
  stamp_for "$mod" > "$STAMPS/$mod"
done
exit $rc
