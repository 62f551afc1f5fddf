#!/usr/bin/env bash
# Provide the Pulumi toolchain this project needs and print the directory that
# holds it as the last (and only) line of stdout:
#
#   pulumi                      the Pulumi CLI, v${PULUMI_VERSION}
#   pulumi-language-nodejs      Node.js language host (our own, toolchain/go/language-nodejs)
#   pulumi-resource-kubernetes  Kubernetes provider, ${KUBERNETES_VERSION}
#
# Usage:
#   npm run -s toolchain                     # or: bash toolchain/ensure.sh
#   export PATH="$(npm run -s toolchain):$PATH"
#   bash toolchain/ensure.sh --sync          # after editing versions.env: rewrite toolchain/go/*/go.mod
#
# No prebuilt Pulumi binaries can be downloaded here, so everything is built
# from Go modules (only the Go module proxy is needed). Builds go to a cache
# outside the repository, keyed by the versions:
#   ${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-canary}/toolchain/pulumi-<v>_kubernetes-<v>/bin
# A run that finds everything built and up to date returns at once.
#
# If a pulumi on PATH is at least v${PULUMI_VERSION} and has a
# pulumi-language-nodejs and a pulumi-resource-kubernetes that reports
# ${KUBERNETES_VERSION} beside it, that directory is printed instead. Set
# MODEL_CANARY_TOOLCHAIN_IGNORE_PATH=1 to skip that check.
#
# Progress and errors go to stderr; the exit status is non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'toolchain: %s\n' "$*" >&2; }
die() {
	printf 'toolchain: error: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=versions.env
source "$here/versions.env" || die "cannot read $here/versions.env"
: "${PULUMI_VERSION:?PULUMI_VERSION missing from versions.env}"
: "${KUBERNETES_VERSION:?KUBERNETES_VERSION missing from versions.env}"
: "${KUBERNETES_PROVIDER_MODULE_VERSION:?KUBERNETES_PROVIDER_MODULE_VERSION missing from versions.env}"

readonly tools=(pulumi pulumi-language-nodejs pulumi-resource-kubernetes)

# --- where things are --------------------------------------------------------

cache_root=${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set; set MODEL_CANARY_CACHE}/.cache}/model-canary}
[[ $cache_root == /* ]] || cache_root=$PWD/$cache_root
toolchain_dir=$cache_root/toolchain/pulumi-${PULUMI_VERSION}_kubernetes-${KUBERNETES_VERSION}
bin_dir=$toolchain_dir/bin

# Per tool: the wrapper Go module, the package to build in it, and -X flags.
module_dir() {
	case $1 in
	pulumi) echo "$here/go/pulumi-cli" ;;
	pulumi-language-nodejs) echo "$here/go/language-nodejs" ;;
	pulumi-resource-kubernetes) echo "$here/go/kubernetes-provider" ;;
	esac
}
main_package() {
	case $1 in
	pulumi) echo "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi" ;;
	*) echo "." ;;
	esac
}
version_ldflags() {
	case $1 in
	pulumi) echo "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}" ;;
	pulumi-language-nodejs) echo "-X main.version=${PULUMI_VERSION}" ;;
	pulumi-resource-kubernetes) echo "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${KUBERNETES_VERSION}" ;;
	esac
}
# What the built binary must print when asked for its version.
expected_version_output() {
	case $1 in
	pulumi) echo "v${PULUMI_VERSION}" ;;
	pulumi-language-nodejs) echo "${PULUMI_VERSION}" ;;
	pulumi-resource-kubernetes) echo "${KUBERNETES_VERSION}" ;;
	esac
}
version_of() { # $1 tool name, $2 binary path
	case $1 in
	pulumi) PULUMI_SKIP_UPDATE_CHECK=true "$2" version 2>/dev/null ;;
	*) "$2" --version 2>/dev/null ;;
	esac
}

# The Go build flags shared by all tools.
go_build_flags=(-mod=readonly -trimpath -buildvcs=false)
go_build_env=(CGO_ENABLED=0 GOWORK=off)

# Fingerprint of everything a tool's binary is built from: the wrapper module
# (go.mod, go.sum, Go sources), the version flags and the build flags. Stored
# beside the binary; a mismatch means "rebuild".
fingerprint() {
	local dir
	dir=$(module_dir "$1")
	{
		(cd "$dir" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum)
		printf '%s\n' "$(version_ldflags "$1")" "${go_build_flags[*]}" "${go_build_env[*]}"
	} | sha256sum | cut -d' ' -f1
}

up_to_date() { # $1 tool name
	[[ -x $bin_dir/$1 && -f $bin_dir/.$1.stamp ]] &&
		[[ $(<"$bin_dir/.$1.stamp") == "$(fingerprint "$1")" ]]
}

all_up_to_date() {
	local t
	for t in "${tools[@]}"; do
		up_to_date "$t" || return 1
	done
}

# --- a toolchain already on PATH ---------------------------------------------

version_ge() { # $1 >= $2 (plain semver, leading v and build metadata ignored)
	local a=${1#v} b=${2#v}
	a=${a%%+*}
	b=${b%%+*}
	[[ $(printf '%s\n%s\n' "$a" "$b" | sort -V | head -n1) == "$b" ]]
}

path_toolchain_dir() {
	local p dir v
	p=$(command -v pulumi 2>/dev/null) || return 1
	p=$(readlink -f "$p") || return 1
	dir=$(dirname "$p")
	# Our own cache dir is handled (and fingerprint-checked) below.
	[[ $dir == "$(readlink -f "$bin_dir" 2>/dev/null || echo "$bin_dir")" ]] && return 1
	[[ -x $dir/pulumi-language-nodejs && -x $dir/pulumi-resource-kubernetes ]] || return 1
	v=$(PULUMI_SKIP_UPDATE_CHECK=true "$p" version 2>/dev/null) || return 1
	version_ge "$v" "$PULUMI_VERSION" || return 1
	v=$("$dir/pulumi-resource-kubernetes" --version 2>/dev/null) || return 1
	[[ ${v#v} == "$KUBERNETES_VERSION" ]] || return 1
	echo "$dir"
}

# --- building ----------------------------------------------------------------

need_go() {
	command -v go >/dev/null 2>&1 ||
		die "the Go toolchain (go) is not on PATH; it is needed to build the Pulumi toolchain"
}

# Fail early, with a hint, when a go.mod was not updated after a version bump.
check_requires() { # $1 tool name
	local gomod want
	gomod=$(module_dir "$1")/go.mod
	case $1 in
	pulumi) want=("github.com/pulumi/pulumi/pkg/v3 v${PULUMI_VERSION}" "github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}") ;;
	pulumi-language-nodejs) want=("github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}") ;;
	pulumi-resource-kubernetes) want=("github.com/pulumi/pulumi-kubernetes/provider/v4 ${KUBERNETES_PROVIDER_MODULE_VERSION}") ;;
	esac
	local w
	for w in "${want[@]}"; do
		grep -Eq "^[[:space:]]*(require[[:space:]]+)?${w//./\\.}( |$)" "$gomod" ||
			die "$gomod does not require '$w' (versions.env changed?); run: bash toolchain/ensure.sh --sync"
	done
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

build_tool() { # $1 tool name, $2 scratch dir
	local name=$1 scratch=$2 src pkg out start got want fp
	start=$(now)
	check_requires "$name"
	fp=$(fingerprint "$name")
	src=$(module_dir "$name")
	pkg=$(main_package "$name")
	out=$scratch/$name

	if [[ $name == pulumi-resource-kubernetes ]]; then
		# The provider embeds two JSON files generated from files in its
		# module; generate them in a scratch copy of the wrapper module.
		local work=$scratch/kubernetes-provider
		mkdir -p "$work"
		cp -R "$src/." "$work/"
		src=$work
		log "generating the kubernetes provider's embedded schema (${KUBERNETES_VERSION})"
		if ! (cd "$src" && env "${go_build_env[@]}" go run -mod=readonly -buildvcs=false ./internal/genembed \
			-version "$KUBERNETES_VERSION" -out .) >&2; then
			die "generating the kubernetes provider schema failed (see above)"
		fi
	fi

	log "building $name (go build in $(module_dir "$name"))"
	if ! (cd "$src" && env "${go_build_env[@]}" go build "${go_build_flags[@]}" \
		-ldflags "-s -w $(version_ldflags "$name")" -o "$out" "$pkg") >&2; then
		die "building $name failed (see the go output above)"
	fi

	want=$(expected_version_output "$name")
	got=$(version_of "$name" "$out") || die "the freshly built $name does not run ($out)"
	[[ $got == "$want" ]] || die "the freshly built $name reports version '$got', expected '$want'"

	# Move into place atomically (same file system), then record the
	# fingerprint; an interrupted run leaves either no binary or a binary
	# without a matching stamp, both of which are rebuilt next time.
	mv -f "$out" "$bin_dir/$name"
	printf '%s\n' "$fp" >"$scratch/$name.stamp"
	mv -f "$scratch/$name.stamp" "$bin_dir/.$name.stamp"
	log "built $name $want in $(elapsed "$start")s"
}

ensure_built() {
	mkdir -p "$bin_dir" || die "cannot create $bin_dir"
	local lock=$toolchain_dir/.lock
	exec 9>"$lock" || die "cannot open lock file $lock"
	if ! flock -n 9; then
		log "waiting for another toolchain build to finish (lock: $lock)"
		flock 9 || die "cannot lock $lock"
	fi

	# Holding the lock: leftovers of interrupted runs can go.
	rm -rf "$toolchain_dir"/.build.*
	scratch=$(mktemp -d "$toolchain_dir/.build.XXXXXX") || die "cannot create a scratch directory"
	trap 'rm -rf "$scratch"' EXIT

	local t start
	start=$(now)
	for t in "${tools[@]}"; do
		if up_to_date "$t"; then
			continue
		fi
		need_go
		build_tool "$t" "$scratch"
	done
	log "toolchain ready in $bin_dir ($(elapsed "$start")s)"
}

sync_go_mod() {
	need_go
	local d
	d=$(module_dir pulumi)
	log "updating $d"
	(cd "$d" && GOWORK=off go get "github.com/pulumi/pulumi/pkg/v3@v${PULUMI_VERSION}" \
		"github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}" && GOWORK=off go mod tidy) >&2 ||
		die "updating $d failed"
	d=$(module_dir pulumi-language-nodejs)
	log "updating $d"
	(cd "$d" && GOWORK=off go get "github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}" &&
		GOWORK=off go mod tidy) >&2 || die "updating $d failed"
	d=$(module_dir pulumi-resource-kubernetes)
	log "updating $d"
	(cd "$d" && GOWORK=off go get "github.com/pulumi/pulumi-kubernetes/provider/v4@${KUBERNETES_PROVIDER_MODULE_VERSION}" \
		"github.com/pulumi/pulumi-kubernetes/sdk/v4@v${KUBERNETES_VERSION}" && GOWORK=off go mod tidy) >&2 ||
		die "updating $d failed"
	log "go.mod/go.sum files updated; review and commit them with versions.env"
}

# --- main ----------------------------------------------------------------------

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

if [[ ${MODEL_CANARY_TOOLCHAIN_IGNORE_PATH:-} != 1 ]] && dir=$(path_toolchain_dir); then
	echo "$dir"
	exit 0
fi

if all_up_to_date; then
	echo "$bin_dir"
	exit 0
fi

ensure_built
echo "$bin_dir"
