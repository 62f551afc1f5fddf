#!/usr/bin/env bash
# Time from a fresh clone to a finished first `up` of the embedded default (`npm ci && npm start`),
# with the toolchain cache warm (built before) and, with --cold, empty (the Pulumi CLI, language
# host and provider are built; the Go module and build caches are emptied too, so only the
# module downloads through the proxy are left out... unless --cold-modules is given as well).
#   bash bench/fresh-clone.sh [--cold] [--cold-modules]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cold=false
cold_modules=false
for arg in "$@"; do
  case $arg in
    --cold) cold=true ;;
    --cold-modules) cold=true; cold_modules=true ;;
    *) echo "usage: bash bench/fresh-clone.sh [--cold] [--cold-modules]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env_vars=()
if $cold; then
  env_vars+=(MODEL_CANARY_CACHE="$work/toolchain-cache" GOCACHE="$work/go-build" MODEL_CANARY_TOOLCHAIN_IGNORE_PATH=1)
  $cold_modules && env_vars+=(GOMODCACHE="$work/go-mod" GOFLAGS=-modcacherw)
fi

start=$(date +%s.%N)
git clone -q "$repo" "$work/clone"
cd "$work/clone"
t0=$(date +%s.%N)
npm ci --no-audit --no-fund >/dev/null 2>&1
t1=$(date +%s.%N)
env "${env_vars[@]}" npm start >"$work/start.log" 2>&1 || { tail -30 "$work/start.log" >&2; exit 1; }
end=$(date +%s.%N)
grep -q "model-canary: stack dev serves v1 99%, v2 1%" "$work/start.log" || { echo "npm start did not finish the first up" >&2; exit 1; }

awk -v s="$start" -v a="$t0" -v b="$t1" -v e="$end" -v mode="$($cold && echo cold || echo warm)" 'BEGIN {
  printf "fresh clone -> first up (%s toolchain cache): total %.1fs (clone %.1fs, npm ci %.1fs, npm start %.1fs)\n", mode, e - s, a - s, b - a, e - b
}'
