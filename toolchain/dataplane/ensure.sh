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
log_tag="toolchain(dataplane)"
subject="the test data plane"
# shellcheck source=../lib.sh
source "$here/../lib.sh"

load_versions ISTIO_MODULE_VERSION ISTIO_BUILD_VERSION

readonly tools=(pilot-discovery model-server model-client)
readonly data_files=()

use_cache_dir "dataplane-istio-${ISTIO_MODULE_VERSION}"

# One wrapper module holds istiod's dependencies and our own programs.
module_dir() { echo "$src"; }
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

fingerprint() { # $1 tool name
	(cd "$src" && own_sources "$1" | xargs sha256sum && sha256sum go.mod go.sum) |
		digest "$1" "$(main_package "$1")" "$(version_ldflags "$1")"
}

check_requires() { # $1 tool name
	require_in_go_mod "$src/go.mod" "istio.io/istio ${ISTIO_MODULE_VERSION}"
}

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

sync_go_mod() {
	update_module "$src" "istio.io/istio@${ISTIO_MODULE_VERSION}"
}

handle_args "$@"
provide
