#!/usr/bin/env bash
# Start time of the `model-canary` command: the compiled one (cli/model-canary.js, what `npx
# model-canary` runs) against the same CLI started through ts-node from the sources (how it started
# before the package was compiled), alternating, for `--version` and `rollout --help`. Prints medians.
#   bash bench/cli-start.sh [runs]   (default 7; needs dist/: `npm run -s compile`)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
[ -f dist/cli/main.js ] || { echo "bench/cli-start.sh: dist/ is missing: run \`npm run -s compile\`" >&2; exit 1; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for args in "--version" "rollout --help"; do
  compiled=(); source=()
  for _ in $(seq "$runs"); do
    # shellcheck disable=SC2086
    source+=("$(ms node test/support/model-canary-source.js $args)")
    # shellcheck disable=SC2086
    compiled+=("$(ms node cli/model-canary.js $args)")
  done
  c=$(printf '%s\n' "${compiled[@]}" | median); t=$(printf '%s\n' "${source[@]}" | median)
  awk -v a="$args" -v c="$c" -v t="$t" -v n="$runs" 'BEGIN { printf "model-canary %s: compiled %.0f ms, through ts-node %.0f ms (medians of %d): %.1fx faster\n", a, c, t, n, t / c }'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
