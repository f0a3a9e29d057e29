#!/usr/bin/env bash
# Builds the Pulumi engine and the plugins this repository uses from pinned Go
# modules into <repo>/bin (git-ignored):
#
#   pulumi                          CLI, github.com/pulumi/pulumi/pkg/v3 (engine/go.mod)
#   pulumi-language-python          our Python language host over sdk/v3 (engine/cmd)
#   pulumi-language-python-exec     upstream script, copied from the sdk/v3 module
#   pulumi-resource-pulumi-python   Python dynamic-provider launcher (scripts/, ours)
#   pulumi-resource-kubernetes      github.com/pulumi/pulumi-kubernetes/provider/v4 (kubernetes/go.mod)
#   pulumi-resource-random          bridged random provider (random/go.mod)
#
# Usage: tools/pulumi/build.sh [-f|--force] [NAME...]
#   NAME is one of the binary names above (default: all). A binary whose inputs
#   (go.mod, go.sum, our sources, version, flags, Go version) are unchanged
#   since its last build is skipped; --force rebuilds anyway.
#
# Versions reported by the providers (-ldflags -X) are set below; the Go
# module versions themselves are pinned in each go.mod.
set -euo pipefail

# The kubernetes provider module has no tags; the served pseudo-version
# (kubernetes/go.mod) is main at 2026-01-15, one day before 4.25.0.
# Override with K8S_VERSION=... in the environment.
K8S_VERSION="${K8S_VERSION:-4.25.0-alpha.1768448096+f47bc2d6f199}"
# Our random provider is assembled from the bridge and the random Terraform
# provider; it serves the same package (tokens/schema) as pulumi-random 4.21.4.
RANDOM_VERSION="4.21.4+meridian"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/bin"
WORK="$HERE/.work"          # git-ignored: stamps, build-time helpers
STAMPS="$WORK/stamps"
mkdir -p "$BIN" "$STAMPS"

export GOTOOLCHAIN=local     # never download another Go toolchain
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
LDBASE="-s -w"

FORCE=0
WANT=()
for a in "$@"; do
  case "$a" in
    -f|--force) FORCE=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) WANT+=("$a") ;;
  esac
done
wanted() { [[ ${#WANT[@]} -eq 0 ]] && return 0; local w; for w in "${WANT[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1; }

GOVERSION="$(go env GOVERSION)"

# stamp NAME FILE... -> prints a hash of the inputs (file contents + extra words in $EXTRA)
stamp() {
  local name="$1"; shift
  { echo "$name $GOVERSION ${EXTRA:-}"; cat "$@"; } | sha256sum | cut -d' ' -f1
}
# up_to_date NAME HASH -> 0 if bin/NAME exists and was built from HASH
up_to_date() {
  [[ $FORCE -eq 0 && -x "$BIN/$1" && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]
}
# finish NAME HASH START DETAIL
finish() {
  echo "$2" > "$STAMPS/$1"
  printf '%-31s %-40s built in %ss\n' "$1" "$4" "$(( $(date +%s) - $3 ))"
}
skip() { printf '%-31s %-40s up to date\n' "$1" "$2"; }

modver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
moddir() { (cd "$1" && go mod download -json "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); }

# ---------------------------------------------------------------- engine ----
ENG="$HERE/engine"
PULUMI_V="$(modver "$ENG" github.com/pulumi/pulumi/pkg/v3)"   # e.g. v3.260.0
SDK_V="$(modver "$ENG" github.com/pulumi/pulumi/sdk/v3)"

if wanted pulumi; then
  EXTRA="$PULUMI_V $LDBASE" h="$(stamp pulumi "$ENG/go.mod" "$ENG/go.sum")"
  if up_to_date pulumi "$h"; then skip pulumi "$PULUMI_V"; else
    t=$(date +%s)
    (cd "$ENG" && go build -trimpath \
      -ldflags "$LDBASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_V" \
      -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    finish pulumi "$h" "$t" "$PULUMI_V"
  fi
fi

if wanted pulumi-language-python; then
  EXTRA="$SDK_V $LDBASE" h="$(stamp pulumi-language-python "$ENG/go.mod" "$ENG/go.sum" "$ENG"/cmd/pulumi-language-python/*.go)"
  if up_to_date pulumi-language-python "$h"; then skip pulumi-language-python "${SDK_V#v} (sdk/v3)"; else
    t=$(date +%s)
    (cd "$ENG" && go build -trimpath -ldflags "$LDBASE -X main.version=${SDK_V#v}" \
      -o "$BIN/pulumi-language-python" ./cmd/pulumi-language-python)
    finish pulumi-language-python "$h" "$t" "${SDK_V#v} (sdk/v3)"
  fi
fi

# Scripts that go next to the CLI: the program runner comes from the sdk/v3
# module (upstream ships it with the CLI, not in the PyPI wheel); the Python
# dynamic-provider launcher is our own (scripts/, see its header).
for s in pulumi-language-python-exec pulumi-resource-pulumi-python; do
  wanted "$s" || continue
  case "$s" in
    pulumi-language-python-exec)
      SDK_DIR="${SDK_DIR:-$(moddir "$ENG" "github.com/pulumi/pulumi/sdk/v3@$SDK_V")}"
      src="$SDK_DIR/python/cmd/$s"; what="${SDK_V#v} (sdk/v3 script)" ;;
    *) src="$HERE/scripts/$s"; what="tools/pulumi/scripts" ;;
  esac
  if [[ -x "$BIN/$s" ]] && cmp -s "$src" "$BIN/$s"; then skip "$s" "$what"; else
    t=$(date +%s)
    install -m 0755 "$src" "$BIN/$s"
    finish "$s" "-" "$t" "$what"
  fi
done

# ------------------------------------------------------------ kubernetes ----
if wanted pulumi-resource-kubernetes; then
  K8S="$HERE/kubernetes"
  KCMD="$K8S/cmd/pulumi-resource-kubernetes"
  EXTRA="$K8S_VERSION $LDBASE" h="$(stamp pulumi-resource-kubernetes "$K8S/go.mod" "$K8S/go.sum" "$KCMD"/*.go)"
  if up_to_date pulumi-resource-kubernetes "$h" && [[ -f "$KCMD/schema-embed.json" ]]; then
    skip pulumi-resource-kubernetes "$K8S_VERSION"
  else
    t=$(date +%s)
    # Upstream generates these two files and does not commit them: derive them
    # from the committed schema.json / terraform-mapping.json in the module.
    KDIR="$(moddir "$K8S" github.com/pulumi/pulumi-kubernetes/provider/v4@"$(modver "$K8S" github.com/pulumi/pulumi-kubernetes/provider/v4)")"
    python3 - "$KDIR/cmd/pulumi-resource-kubernetes" "$KCMD" "$K8S_VERSION" <<'PY'
import json, sys, os
src, dst, version = sys.argv[1:4]
schema = json.load(open(os.path.join(src, "schema.json")))
schema["version"] = version
json.dump(schema, open(os.path.join(dst, "schema-embed.json"), "w"), separators=(",", ":"))
mapping = json.load(open(os.path.join(src, "terraform-mapping.json")))
json.dump(mapping, open(os.path.join(dst, "terraform-mapping-embed.json"), "w"), separators=(",", ":"))
PY
    (cd "$K8S" && go build -trimpath \
      -ldflags "$LDBASE -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_VERSION" \
      -o "$BIN/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
    finish pulumi-resource-kubernetes "$h" "$t" "$K8S_VERSION"
  fi
fi

# ---------------------------------------------------------------- random ----
if wanted pulumi-resource-random; then
  RND="$HERE/random"
  RCMD="$RND/cmd/pulumi-resource-random"
  EXTRA="$RANDOM_VERSION $LDBASE" h="$(stamp pulumi-resource-random "$RND/go.mod" "$RND/go.sum" \
    "$RND/shim/go.mod" "$RND/shim/go.sum" "$RND"/shim/*.go "$RND"/info/*.go "$RND"/version/*.go \
    "$RND"/cmd/*/*.go)"
  if up_to_date pulumi-resource-random "$h" && [[ -f "$RCMD/schema.json" ]]; then
    skip pulumi-resource-random "$RANDOM_VERSION"
  else
    t=$(date +%s)
    VFLAG="-X github.com/meridian-platform/meridian/tools/pulumi/random/version.Version=$RANDOM_VERSION"
    # go:embed needs the files to exist while the generator itself is compiled.
    [[ -f "$RCMD/schema.json" ]] || echo '{}' > "$RCMD/schema.json"
    [[ -f "$RCMD/bridge-metadata.json" ]] || echo '{}' > "$RCMD/bridge-metadata.json"
    (cd "$RND" && go build -trimpath -ldflags "$LDBASE $VFLAG" \
      -o "$WORK/pulumi-tfgen-random" ./cmd/pulumi-tfgen-random)
    # Generate schema.json and bridge-metadata.json (git-ignored) from the
    # Terraform provider's schema.
    rm -rf "$WORK/random-schema"
    (cd "$WORK" && RANDOM_BRIDGE_METADATA="$RCMD/bridge-metadata.json" \
      ./pulumi-tfgen-random schema --out "$WORK/random-schema" --skip-docs --skip-examples \
      >"$WORK/tfgen-random.log" 2>&1) || { cat "$WORK/tfgen-random.log" >&2; exit 1; }
    python3 - "$WORK/random-schema" "$RCMD" "$RANDOM_VERSION" <<'PY'
import json, sys, os, shutil
src, dst, version = sys.argv[1:4]
schema = json.load(open(os.path.join(src, "schema.json")))
schema["version"] = version
json.dump(schema, open(os.path.join(dst, "schema.json"), "w"), separators=(",", ":"))
shutil.copyfile(os.path.join(src, "bridge-metadata.json"), os.path.join(dst, "bridge-metadata.json"))
PY
    (cd "$RND" && go build -trimpath -ldflags "$LDBASE $VFLAG" \
      -o "$BIN/pulumi-resource-random" ./cmd/pulumi-resource-random)
    finish pulumi-resource-random "$h" "$t" "$RANDOM_VERSION"
  fi
fi
