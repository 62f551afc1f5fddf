#!/usr/bin/env bash
# Provide the test data plane: Istio's control plane and the gRPC model backends and client the
# data-plane tests and `npm run bench:rollback-traffic` route requests through. Prints the
# directory that holds it as the last (and only) line of stdout:
#
#   pilot-discovery   istiod, from istio.io/istio ${ISTIO_MODULE_VERSION}
#   model-server      a gRPC model backend with Istio's request metrics and a prediction histogram
#                     (toolchain/dataplane/go/cmd/model-server)
#   model-client      a proxyless gRPC load generator routed by istiod over xDS
#                     (toolchain/dataplane/go/cmd/model-client)
#
# Usage:
#   npm run -s toolchain:dataplane             # or: bash toolchain/dataplane/ensure.sh
#   bash toolchain/dataplane/ensure.sh --sync  # after editing versions.env: rewrite go/go.mod
#
# Everything is built from Go modules (only the Go module proxy is needed) into a cache outside
# the repository, keyed by the Istio version:
#   ${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-canary}/toolchain/dataplane-istio-<version>/bin
# A run that finds everything built and up to date returns at once. Each binary carries a
# fingerprint of what it was built from (its sources, go.mod/go.sum, flags); a mismatch rebuilds
# it, so editing the model server rebuilds only the model server and the client. Builds hold a
# lock, so concurrent runs wait for each other. A cold build of pilot-discovery takes about
# 5 minutes on 2 cores.
#
# Progress and errors go to stderr; the exit status is non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/go

log() { printf 'toolchain(dataplane): %s\n' "$*" >&2; }
die() {
	printf 'toolchain(dataplane): error: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=versions.env
source "$here/versions.env" || die "cannot read $here/versions.env"
: "${ISTIO_MODULE_VERSION:?ISTIO_MODULE_VERSION missing from versions.env}"
: "${ISTIO_BUILD_VERSION:?ISTIO_BUILD_VERSION missing from versions.env}"

readonly tools=(pilot-discovery model-server model-client)

cache_root=${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set; set MODEL_CANARY_CACHE}/.cache}/model-canary}
[[ $cache_root == /* ]] || cache_root=$PWD/$cache_root
toolchain_dir=$cache_root/toolchain/dataplane-istio-${ISTIO_MODULE_VERSION}
bin_dir=$toolchain_dir/bin

main_package() {
	case $1 in
	pilot-discovery) echo "istio.io/istio/pilot/cmd/pilot-discovery" ;;
	*) echo "./cmd/$1" ;;
	esac
}
version_ldflags() {
	case $1 in
	pilot-discovery) echo "-X istio.io/istio/pkg/version.buildVersion=${ISTIO_BUILD_VERSION} -X istio.io/istio/pkg/version.buildStatus=Clean -X istio.io/istio/pkg/version.buildTag=${ISTIO_MODULE_VERSION}" ;;
	*) echo "" ;;
	esac
}
# The source files a tool is built from (besides go.mod and go.sum): pilot-discovery comes from
# the module cache, so only the wrapper's tools.go counts; ours are every .go file of the module.
own_sources() {
	case $1 in
	pilot-discovery) echo tools.go ;;
	*) (cd "$src" && find . -type f -name '*.go' ! -name tools.go | LC_ALL=C sort) ;;
	esac
}

go_build_flags=(-mod=readonly -trimpath -buildvcs=false)
go_build_env=(CGO_ENABLED=0 GOWORK=off)

fingerprint() { # $1 tool name
	{
		(cd "$src" && own_sources "$1" | xargs sha256sum && sha256sum go.mod go.sum)
		printf '%s\n' "$1" "$(main_package "$1")" "$(version_ldflags "$1")" "${go_build_flags[*]}" "${go_build_env[*]}"
	} | sha256sum | cut -d' ' -f1
}

up_to_date() { # $1 tool name
	[[ -f $bin_dir/$1 && -f $bin_dir/.$1.stamp ]] &&
		[[ $(<"$bin_dir/.$1.stamp") == "$(fingerprint "$1")" ]]
}

all_up_to_date() {
	local t
	for t in "${tools[@]}"; do
		up_to_date "$t" || return 1
	done
}

need_go() {
	command -v go >/dev/null 2>&1 ||
		die "the Go toolchain (go) is not on PATH; it is needed to build the test data plane"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Checks that the freshly built binary runs (and, for istiod, reports the pinned version).
check_binary() { # $1 tool name, $2 path
	local got
	case $1 in
	pilot-discovery)
		got=$("$2" version -s 2>/dev/null) || die "the freshly built pilot-discovery does not run ($2)"
		[[ $got == "client version: $ISTIO_BUILD_VERSION" ]] || die "the freshly built pilot-discovery reports '$got', expected '$ISTIO_BUILD_VERSION'"
		;;
	*)
		# Both print their flags for -h and exit 0 (Go's flag package exits 0 for -h).
		"$2" -h >/dev/null 2>&1 || die "the freshly built $1 does not run ($2)"
		;;
	esac
}

build_tool() { # $1 tool name, $2 scratch dir
	local name=$1 scratch=$2 start fp
	start=$(now)
	grep -Eq "^[[:space:]]*(require[[:space:]]+)?istio\.io/istio ${ISTIO_MODULE_VERSION//./\\.}( |\$)" "$src/go.mod" ||
		die "$src/go.mod does not require 'istio.io/istio ${ISTIO_MODULE_VERSION}' (versions.env changed?); run: bash toolchain/dataplane/ensure.sh --sync"
	fp=$(fingerprint "$name")
	log "building $name (go build $(main_package "$name") in $src)"
	if ! (cd "$src" && env "${go_build_env[@]}" go build "${go_build_flags[@]}" \
		-ldflags "-s -w $(version_ldflags "$name")" -o "$scratch/$name" "$(main_package "$name")") >&2; then
		die "building $name failed (see the go output above)"
	fi
	check_binary "$name" "$scratch/$name"
	# Atomic on the same file system; an interrupted run leaves no file or no matching stamp.
	mv -f "$scratch/$name" "$bin_dir/$name"
	printf '%s\n' "$fp" >"$scratch/$name.stamp"
	mv -f "$scratch/$name.stamp" "$bin_dir/.$name.stamp"
	log "built $name in $(elapsed "$start")s"
}

ensure_built() {
	mkdir -p "$bin_dir" || die "cannot create $bin_dir"
	local lock=$toolchain_dir/.lock
	exec 9>"$lock" || die "cannot open lock file $lock"
	if ! flock -n 9; then
		log "waiting for another build of the data plane to finish (lock: $lock)"
		flock 9 || die "cannot lock $lock"
	fi
	rm -rf "$toolchain_dir"/.build.*
	scratch=$(mktemp -d "$toolchain_dir/.build.XXXXXX") || die "cannot create a scratch directory"
	trap 'rm -rf "$scratch"' EXIT

	local t start
	start=$(now)
	for t in "${tools[@]}"; do
		up_to_date "$t" && continue
		need_go
		build_tool "$t" "$scratch"
	done
	log "data plane ready in $bin_dir ($(elapsed "$start")s)"
}

sync_go_mod() {
	need_go
	log "updating $src"
	(cd "$src" && GOWORK=off go get "istio.io/istio@${ISTIO_MODULE_VERSION}" && GOWORK=off go mod tidy) >&2 ||
		die "updating $src failed"
	log "go.mod/go.sum updated; review and commit them with versions.env"
}

case ${1:-} in
"") ;;
--sync)
	sync_go_mod
	exit 0
	;;
-h | --help)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 0
	;;
*) die "unknown argument '$1' (try --help)" ;;
esac

if all_up_to_date; then
	echo "$bin_dir"
	exit 0
fi

ensure_built
echo "$bin_dir"
