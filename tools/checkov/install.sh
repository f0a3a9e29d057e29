#!/usr/bin/env bash
# Syncs the locked checkov environment into .meridian/checkov and links it into bin/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
uv=${UV:-$root/.meridian/uv/bin/uv}
UV_PROJECT_ENVIRONMENT="$root/.meridian/checkov" "$uv" sync --frozen --quiet --project "$here"
mkdir -p "$root/bin"
ln -sf "$root/.meridian/checkov/bin/checkov" "$root/bin/checkov"
