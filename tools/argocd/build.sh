#!/usr/bin/env bash
# Build Argo CD's controllers from the pinned Go module (tools/argocd/go.mod) into bin/.
#
#   tools/argocd/build.sh [--force] [--check]
#
# Argo CD's cmd/ package is one binary that picks its component by the name it was started under
# (argv[0]). The build writes bin/argocd and links the component names to it:
#   argocd-application-controller argocd-repo-server argocd-applicationset-controller
# It also copies out of the module what an installation of this version starts from: the CRDs
# (bin/argocd-crds/: Application, ApplicationSet, AppProject) and the default configuration
# (bin/argocd-config/: argocd-cm, argocd-rbac-cm, argocd-secret, …), so the local cluster installs
# exactly what this version ships.
#
# One line is compiled changed, in a copy of the module under bin/.argocd-src (the module cache
# is untouched): the application controller serves its metrics on "0.0.0.0:<port>", an address no flag changes (still
# so in v3.6.1). The local loop listens on loopback only, so the build compiles that line with
# 127.0.0.1 instead, and fails if the line is not found exactly once.
#
# Idempotent: rebuilt only when go.mod/go.sum, the Go version or BUILD_REV changed, or an output is
# missing (stamp in $BIN/.argocd-build). A no-op run takes about 0.1 s.
#   --force  rebuild even if up to date
#   --check  build nothing; exit 1 if stale
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${MERIDIAN_ARGOCD_BIN:-$ROOT/bin}"
STAMP="$BIN/.argocd-build"
MODULE=github.com/argoproj/argo-cd/v3
LINKS="argocd-application-controller argocd-repo-server argocd-applicationset-controller"
CRDS="application-crd.yaml applicationset-crd.yaml appproject-crd.yaml"
CONFIG="argocd-cm.yaml argocd-cmd-params-cm.yaml argocd-gpg-keys-cm.yaml argocd-rbac-cm.yaml argocd-secret.yaml
        argocd-ssh-known-hosts-cm.yaml argocd-tls-certs-cm.yaml"
METRICS_LINE='metricsAddr := fmt.Sprintf("0.0.0.0:%d", metricsPort)'
LOOPBACK_LINE='metricsAddr := fmt.Sprintf("127.0.0.1:%d", metricsPort)'

force=0 check=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --check) check=1 ;;
    -h|--help) awk 'NR>1 && !/^#/ {exit} NR>1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# Bump when a change to this script must force a rebuild (flags, links, outputs).
BUILD_REV=2

stamp() {
  { echo "rev=$BUILD_REV"; cat "$HERE/go.mod" "$HERE/go.sum"; go version; go env GOOS GOARCH
    echo "CGO_ENABLED=$CGO_ENABLED"; } | sha256sum | cut -d' ' -f1
}

up_to_date() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp)" ] && [ -x "$BIN/argocd" ] || return 1
  local n
  for n in $LINKS; do [ -L "$BIN/$n" ] || return 1; done
  for n in $CRDS; do [ -s "$BIN/argocd-crds/$n" ] || return 1; done
  for n in $CONFIG; do [ -s "$BIN/argocd-config/$n" ] || return 1; done
}

if [ $force = 0 ] && up_to_date; then echo "build.sh: argocd up to date"; exit 0; fi
if [ $check = 1 ]; then echo "build.sh: argocd is stale"; exit 1; fi

cd "$HERE"
# `go list -m` reports a module's folder only once it is in the module cache: on a fresh machine
# nothing has downloaded Argo CD yet.
go mod download "$MODULE"
version="$(go list -m -f '{{.Version}}' $MODULE)"
# build date = the module's publication time, so two builds of one pin are identical
built="$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' $MODULE)"
kubectl_version="$(go list -m -f '{{.Version}}' k8s.io/client-go)"
p=$MODULE/common
ld="-s -w -X $p.version=${version#v} -X $p.buildDate=$built -X $p.gitTag=$version"
ld+=" -X $p.gitTreeState=clean -X $p.kubectlVersion=$kubectl_version"

# `go list -m` names a module's folder only once the module is in the module cache, which a cold
# machine's is not: download it first (a no-op on a warm cache).
go mod download "$MODULE"
moddir="$(go list -m -f '{{.Dir}}' $MODULE)"
if [ -z "$moddir" ] || [ ! -d "$moddir" ]; then
  echo "build.sh: $MODULE is not in the module cache after \`go mod download\`" >&2
  exit 1
fi

mkdir -p "$BIN"
# The changed copy of the module lives beside the binaries (Go refuses overlays of files in the
# module cache); a modfile next to it replaces the module by that copy for this build only.
work="$BIN/.argocd-src"
rm -rf "$work"
mkdir -p "$work"
cp -r --no-preserve=mode "$moddir" "$work/argo-cd"
controller="$work/argo-cd/controller/appcontroller.go"
found="$(grep -cF "$METRICS_LINE" "$controller" || true)"
if [ "$found" != 1 ]; then
  echo "build.sh: expected the line '$METRICS_LINE' once in $controller, found it $found times;" \
       "the loopback change of the metrics listener needs a new look for this Argo CD version" >&2
  exit 1
fi
awk -v old="$METRICS_LINE" -v new="$LOOPBACK_LINE" \
  '{ i = index($0, old); if (i) $0 = substr($0, 1, i - 1) new substr($0, i + length(old)); print }' \
  "$controller" > "$controller.new"
mv -f "$controller.new" "$controller"
cp go.mod "$work/build.mod"
cp go.sum "$work/build.sum"
printf '\nreplace %s => %s\n' "$MODULE" "$work/argo-cd" >> "$work/build.mod"

start=$EPOCHREALTIME
go build -modfile="$work/build.mod" -trimpath -ldflags "$ld" -o "$BIN/argocd.tmp" $MODULE/cmd
mv -f "$BIN/argocd.tmp" "$BIN/argocd"
printf 'build.sh: built argocd %s %6.1fs %4d MiB\n' "$version" \
  "$(awk "BEGIN{print $EPOCHREALTIME - $start}")" $(( $(stat -c %s "$BIN/argocd") / 1048576 ))
for n in $LINKS; do ln -sfn argocd "$BIN/$n"; done

mkdir -p "$BIN/argocd-crds" "$BIN/argocd-config"
for n in $CRDS; do install -m 0644 "$moddir/manifests/crds/$n" "$BIN/argocd-crds/$n"; done
for n in $CONFIG; do install -m 0644 "$moddir/manifests/base/config/$n" "$BIN/argocd-config/$n"; done
rm -rf "$work"  # the build cache keeps what a rebuild needs
stamp > "$STAMP"
