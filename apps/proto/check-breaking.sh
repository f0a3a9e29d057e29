#!/usr/bin/env bash
# Fails when the .proto files in the working tree break the contracts committed on the base branch
# (BASE_BRANCH, default main): removed fields, renumbered tags, changed types and the like, under
# buf's FILE rules (buf.yaml). When the base branch has no protos yet there is nothing to break:
# it says so and passes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
base=${BASE_BRANCH:-main}
subdir=${here#"$root"/}
buf=${BUF:-$root/bin/buf}
if [[ ! -x $buf ]]; then
  buf=$(command -v buf || true)
fi
if [[ -z $buf ]]; then
  echo "check-breaking: buf is missing; build the Go tools with 'bash tools/go/build.sh'" >&2
  exit 1
fi

# A fresh CI clone may only have the remote-tracking branch.
if git -C "$root" rev-parse --verify --quiet "refs/heads/$base" >/dev/null; then
  ref_kind=branch
  rev=$base
elif git -C "$root" rev-parse --verify --quiet "refs/remotes/origin/$base" >/dev/null; then
  ref_kind=ref
  rev=origin/$base
else
  echo "check-breaking: there is no branch $base to compare against" >&2
  exit 1
fi

if ! git -C "$root" ls-tree -r --name-only "$rev" -- "$subdir" | grep -q '\.proto$'; then
  echo "check-breaking: $rev has no .proto files under $subdir yet; nothing to compare against"
  exit 0
fi

# The common git dir, so this also works from a linked worktree (where .git is a file).
git_dir=$(cd "$root" && cd "$(git rev-parse --git-common-dir)" && pwd)
cd "$here"
"$buf" breaking --against "$git_dir#format=git,$ref_kind=$rev,subdir=$subdir"
echo "check-breaking: no breaking changes against $rev"
