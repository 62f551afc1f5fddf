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
#   gateway-api-crds.yaml    Gateway API's standard-channel CRDs from sigs.k8s.io/gateway-api v${GATEWAY_API_VERSION}
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
log_tag="toolchain(cluster)"
subject="the local control plane"
# shellcheck source=../lib.sh
source "$here/../lib.sh"

load_versions KUBERNETES_VERSION KUBERNETES_STAGING_VERSION KUBERNETES_SAMPLE_APISERVER_VERSION ETCD_VERSION KWOK_VERSION ISTIO_API_VERSION GATEWAY_API_VERSION

readonly tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
readonly data_files=(kwok-stages.yaml istio-crds.yaml gateway-api-crds.yaml)

# The Gateway API's version is not in the name: its CRD file carries its own fingerprint, so a
# bump rewrites that file alone instead of rebuilding every binary in a new directory.
use_cache_dir "cluster-k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_istio-api-${ISTIO_API_VERSION}"

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

# kwok's stages are fingerprinted with the kwok wrapper module (it pins their version), Istio's
# CRDs by the istio.io/api version, the Gateway API's by its module version.
fingerprint() { # $1 tool name or data file
	local dir
	case $1 in
	kwok-stages.yaml) dir=$(module_dir kwok) ;;
	istio-crds.yaml) printf 'istio.io/api v%s kubernetes/customresourcedefinitions.gen.yaml\n' "$ISTIO_API_VERSION" | sha256sum | cut -d' ' -f1 && return ;;
	gateway-api-crds.yaml) printf 'sigs.k8s.io/gateway-api v%s config/crd/standard/*.yaml without _vap_\n' "$GATEWAY_API_VERSION" | sha256sum | cut -d' ' -f1 && return ;;
	*) dir=$(module_dir "$1") ;;
	esac
	module_hashes "$dir" | digest "$1" "$(main_package "$1")" "$(version_ldflags "$1")"
}

check_requires() { # $1 tool name
	local want
	case $1 in
	etcd) want="go.etcd.io/etcd/server/v3 v${ETCD_VERSION}" ;;
	kwok) want="sigs.k8s.io/kwok v${KWOK_VERSION}" ;;
	*) want="k8s.io/kubernetes v${KUBERNETES_VERSION}" ;;
	esac
	require_in_go_mod "$(module_dir "$1")/go.mod" "$want"
}

check_binary() { # $1 tool name, $2 binary path
	local got want
	want=$(expected_version_line "$1")
	got=$(version_of "$1" "$2") || die "the freshly built $1 does not run ($2)"
	grep -qE "^${want//./\\.}( |$)" <<<"$got" || die "the freshly built $1 reports '$got', expected a line starting '$want'"
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
	gateway-api-crds.yaml)
		# The standard channel, one CRD a file (what standard-install.yaml bundles), without the
		# ValidatingAdmissionPolicy beside them (it only guards upgrades between channels).
		dir=$(module_source_dir "sigs.k8s.io/gateway-api@v${GATEWAY_API_VERSION}")/config/crd/standard
		[[ -f $dir/gateway.networking.k8s.io_httproutes.yaml && -f $dir/gateway.networking.k8s.io_grpcroutes.yaml ]] ||
			die "sigs.k8s.io/gateway-api v${GATEWAY_API_VERSION} has no config/crd/standard HTTPRoute and GRPCRoute CRDs"
		for f in "$dir"/*.yaml; do
			[[ $f == *_vap_* ]] && continue
			printf -- '---\n'
			sed '/^---$/d' "$f"
		done >"$scratch/$name"
		;;
	esac
	install_file "$name" "$scratch" "$fp"
	log "wrote $name"
}

sync_go_mod() {
	local d mod
	update_module "$(module_dir etcd)" "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}"
	update_module "$(module_dir kwok)" "sigs.k8s.io/kwok@v${KWOK_VERSION}"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
	# ./staging/...; those replaces do not apply to a dependency, so ours point every staging
	# module at its published release.
	d=$(module_dir kube-apiserver)
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
	update_module "$d"
}

# --- main ----------------------------------------------------------------------

handle_args "$@"
provide
