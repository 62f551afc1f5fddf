#!/usr/bin/env bash
# Provide the local Kubernetes control plane this project's cluster tests and `npm run cluster:up`
# use, and print the directory that holds it as the last (and only) line of stdout:
#
#   etcd                     etcd server v${ETCD_VERSION}
#   kube-apiserver           \
#   kube-controller-manager   | Kubernetes v${KUBERNETES_VERSION}
#   kube-scheduler            |
#   kubectl                  /
#   kwok                     fake nodes and pod status, v${KWOK_VERSION}
#   kwok-stages.yaml         kwok's stage definitions (node initialize/heartbeat, pod ready/complete/delete)
#   istio-crds.yaml          Istio's CRDs from istio.io/api v${ISTIO_API_VERSION}
#
# Usage:
#   npm run -s toolchain:cluster             # or: bash toolchain/cluster/ensure.sh
#   bash toolchain/cluster/ensure.sh --sync  # after editing versions.env: rewrite go/*/go.mod
#
# Everything is built from Go modules (only the Go module proxy is needed) into a cache outside
# the repository, keyed by the versions:
#   ${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-canary}/toolchain/cluster-k8s-<v>_etcd-<v>_kwok-<v>_istio-api-<v>/bin
# A run that finds everything built and up to date returns at once. Each binary carries a
# fingerprint of what it was built from (wrapper module, flags); a mismatch rebuilds it.
# Builds hold a lock, so concurrent runs wait for each other.
#
# Progress and errors go to stderr; the exit status is non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'toolchain(cluster): %s\n' "$*" >&2; }
die() {
	printf 'toolchain(cluster): error: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=versions.env
source "$here/versions.env" || die "cannot read $here/versions.env"
: "${KUBERNETES_VERSION:?KUBERNETES_VERSION missing from versions.env}"
: "${KUBERNETES_STAGING_VERSION:?KUBERNETES_STAGING_VERSION missing from versions.env}"
: "${KUBERNETES_SAMPLE_APISERVER_VERSION:?KUBERNETES_SAMPLE_APISERVER_VERSION missing from versions.env}"
: "${ETCD_VERSION:?ETCD_VERSION missing from versions.env}"
: "${KWOK_VERSION:?KWOK_VERSION missing from versions.env}"
: "${ISTIO_API_VERSION:?ISTIO_API_VERSION missing from versions.env}"

readonly tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
readonly data_files=(kwok-stages.yaml istio-crds.yaml)

# --- where things are --------------------------------------------------------

cache_root=${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set; set MODEL_CANARY_CACHE}/.cache}/model-canary}
[[ $cache_root == /* ]] || cache_root=$PWD/$cache_root
toolchain_dir=$cache_root/toolchain/cluster-k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_istio-api-${ISTIO_API_VERSION}
bin_dir=$toolchain_dir/bin

module_dir() {
	case $1 in
	etcd) echo "$here/go/etcd" ;;
	kwok) echo "$here/go/kwok" ;;
	*) echo "$here/go/kubernetes" ;;
	esac
}
main_package() {
	case $1 in
	etcd) echo "." ;;
	kwok) echo "sigs.k8s.io/kwok/cmd/kwok" ;;
	*) echo "k8s.io/kubernetes/cmd/$1" ;;
	esac
}
version_ldflags() {
	local v=$KUBERNETES_VERSION
	case $1 in
	etcd) echo "" ;;
	kwok) echo "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION}" ;;
	# Without these the binaries report v0.0.0-master+$Format:%H$, which clients cannot use.
	*) echo "-X k8s.io/component-base/version.gitVersion=v$v -X k8s.io/component-base/version.gitMajor=${v%%.*} -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$v") -X k8s.io/component-base/version.gitTreeState=clean" ;;
	esac
}
# The start of a line the built binary must print when asked for its version.
expected_version_line() {
	case $1 in
	etcd) echo "etcd Version: ${ETCD_VERSION}" ;;
	kwok) echo "kwok version v${KWOK_VERSION}" ;;
	kubectl) echo "Client Version: v${KUBERNETES_VERSION}" ;;
	*) echo "Kubernetes v${KUBERNETES_VERSION}" ;;
	esac
}
version_of() { # $1 tool name, $2 binary path
	case $1 in
	kubectl) "$2" version --client 2>/dev/null ;;
	*) "$2" --version 2>/dev/null ;;
	esac
}

go_build_flags=(-mod=readonly -trimpath -buildvcs=false)
go_build_env=(CGO_ENABLED=0 GOWORK=off)

fingerprint() { # $1 tool name or data file
	local dir
	case $1 in
	kwok-stages.yaml) dir=$(module_dir kwok) ;;
	istio-crds.yaml) printf 'istio.io/api v%s kubernetes/customresourcedefinitions.gen.yaml\n' "$ISTIO_API_VERSION" | sha256sum | cut -d' ' -f1 && return ;;
	*) dir=$(module_dir "$1") ;;
	esac
	{
		(cd "$dir" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum)
		printf '%s\n' "$1" "$(main_package "$1")" "$(version_ldflags "$1")" "${go_build_flags[*]}" "${go_build_env[*]}"
	} | sha256sum | cut -d' ' -f1
}

up_to_date() { # $1 tool name or data file
	[[ -f $bin_dir/$1 && -f $bin_dir/.$1.stamp ]] &&
		[[ $(<"$bin_dir/.$1.stamp") == "$(fingerprint "$1")" ]]
}

all_up_to_date() {
	local t
	for t in "${tools[@]}" "${data_files[@]}"; do
		up_to_date "$t" || return 1
	done
}

need_go() {
	command -v go >/dev/null 2>&1 ||
		die "the Go toolchain (go) is not on PATH; it is needed to build the local control plane"
}

check_requires() { # $1 tool name
	local gomod want
	gomod=$(module_dir "$1")/go.mod
	case $1 in
	etcd) want="go.etcd.io/etcd/server/v3 v${ETCD_VERSION}" ;;
	kwok) want="sigs.k8s.io/kwok v${KWOK_VERSION}" ;;
	*) want="k8s.io/kubernetes v${KUBERNETES_VERSION}" ;;
	esac
	grep -Eq "^[[:space:]]*(require[[:space:]]+)?${want//./\\.}( |$)" "$gomod" ||
		die "$gomod does not require '$want' (versions.env changed?); run: bash toolchain/cluster/ensure.sh --sync"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Move a finished file into place atomically (same file system), then record its fingerprint;
# an interrupted run leaves either no file or a file without a matching stamp: both are redone.
install_file() { # $1 name, $2 scratch dir, $3 fingerprint
	mv -f "$2/$1" "$bin_dir/$1"
	printf '%s\n' "$3" >"$2/$1.stamp"
	mv -f "$2/$1.stamp" "$bin_dir/.$1.stamp"
}

build_tool() { # $1 tool name, $2 scratch dir
	local name=$1 scratch=$2 src start got want fp
	start=$(now)
	check_requires "$name"
	fp=$(fingerprint "$name")
	src=$(module_dir "$name")
	log "building $name (go build $(main_package "$name") in $src)"
	if ! (cd "$src" && env "${go_build_env[@]}" go build "${go_build_flags[@]}" \
		-ldflags "-s -w $(version_ldflags "$name")" -o "$scratch/$name" "$(main_package "$name")") >&2; then
		die "building $name failed (see the go output above)"
	fi
	want=$(expected_version_line "$name")
	got=$(version_of "$name" "$scratch/$name") || die "the freshly built $name does not run ($scratch/$name)"
	grep -qE "^${want//./\\.}( |$)" <<<"$got" || die "the freshly built $name reports '$got', expected a line starting '$want'"
	install_file "$name" "$scratch" "$fp"
	log "built $name in $(elapsed "$start")s"
}

module_source_dir() { # $1 module@version; prints its directory in the module cache (downloads it)
	local dir
	dir=$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -n $dir && -d $dir ]] || die "go mod download $1 gave no directory"
	echo "$dir"
}

make_data_file() { # $1 file name, $2 scratch dir
	local name=$1 scratch=$2 dir fp f
	fp=$(fingerprint "$name")
	case $name in
	kwok-stages.yaml)
		# kwok refuses to start without stage definitions; its module ships them.
		dir=$(module_source_dir "sigs.k8s.io/kwok@v${KWOK_VERSION}")/kustomize/stage
		for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
			[[ -f $dir/$f ]] || die "kwok v${KWOK_VERSION} has no stage $f"
			printf -- '---\n'
			sed '/^---$/d' "$dir/$f"
		done >"$scratch/$name"
		;;
	istio-crds.yaml)
		dir=$(module_source_dir "istio.io/api@v${ISTIO_API_VERSION}")
		f=$dir/kubernetes/customresourcedefinitions.gen.yaml
		[[ -f $f ]] || die "istio.io/api v${ISTIO_API_VERSION} has no kubernetes/customresourcedefinitions.gen.yaml"
		cp "$f" "$scratch/$name"
		;;
	esac
	install_file "$name" "$scratch" "$fp"
	log "wrote $name"
}

ensure_built() {
	mkdir -p "$bin_dir" || die "cannot create $bin_dir"
	local lock=$toolchain_dir/.lock
	exec 9>"$lock" || die "cannot open lock file $lock"
	if ! flock -n 9; then
		log "waiting for another build of the control plane to finish (lock: $lock)"
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
	for t in "${data_files[@]}"; do
		up_to_date "$t" && continue
		need_go
		make_data_file "$t" "$scratch"
	done
	log "control plane ready in $bin_dir ($(elapsed "$start")s)"
}

sync_go_mod() {
	need_go
	local d mod
	d=$(module_dir etcd)
	log "updating $d"
	(cd "$d" && GOWORK=off go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" && GOWORK=off go mod tidy) >&2 ||
		die "updating $d failed"
	d=$(module_dir kwok)
	log "updating $d"
	(cd "$d" && GOWORK=off go get "sigs.k8s.io/kwok@v${KWOK_VERSION}" && GOWORK=off go mod tidy) >&2 ||
		die "updating $d failed"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
	# ./staging/...; those replaces do not apply to a dependency, so ours point every staging
	# module at its published release.
	d=$(module_dir kube-apiserver)
	log "updating $d"
	mod=$(cd / && GOWORK=off go mod download -json "k8s.io/kubernetes@v${KUBERNETES_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[[ -f $mod ]] || die "cannot download k8s.io/kubernetes@v${KUBERNETES_VERSION}"
	{
		sed -n '1,/^require/p' "$d/go.mod" | sed '$d'
		printf 'require k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBERNETES_VERSION"
		sed -n '/^replace (/,/^)/p' "$mod" | awk -v v="v$KUBERNETES_STAGING_VERSION" -v s="v$KUBERNETES_SAMPLE_APISERVER_VERSION" \
			'$2 == "=>" { printf "\t%s => %s %s\n", $1, $1, ($1 == "k8s.io/sample-apiserver" ? s : v) }'
		printf ')\n'
	} >"$d/go.mod.new"
	mv "$d/go.mod.new" "$d/go.mod"
	(cd "$d" && GOWORK=off go mod tidy) >&2 || die "updating $d failed"
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

if all_up_to_date; then
	echo "$bin_dir"
	exit 0
fi

ensure_built
echo "$bin_dir"
