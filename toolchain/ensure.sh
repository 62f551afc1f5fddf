#!/usr/bin/env bash
# Provide the Pulumi toolchain this project needs and print the directory that
# holds it as the last (and only) line of stdout:
#
#   pulumi                      the Pulumi CLI, v${PULUMI_VERSION}
#   pulumi-language-nodejs      Node.js language host (our own, toolchain/go/language-nodejs)
#   pulumi-resource-kubernetes  Kubernetes provider, ${KUBERNETES_VERSION}
#   pulumi-language-yaml        YAML language host, ${YAML_VERSION} (github.com/pulumi/pulumi-yaml)
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
# pulumi-language-nodejs, a pulumi-language-yaml and a pulumi-resource-kubernetes
# that reports ${KUBERNETES_VERSION} beside it, that directory is printed instead. Set
# MODEL_CANARY_TOOLCHAIN_IGNORE_PATH=1 to skip that check.
#
# Progress and errors go to stderr; the exit status is non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log_tag=toolchain
subject="the Pulumi toolchain"
# shellcheck source=lib.sh
source "$here/lib.sh"

load_versions PULUMI_VERSION KUBERNETES_VERSION KUBERNETES_PROVIDER_MODULE_VERSION YAML_VERSION

readonly tools=(pulumi pulumi-language-nodejs pulumi-resource-kubernetes pulumi-language-yaml)
readonly data_files=()

use_cache_dir "pulumi-${PULUMI_VERSION}_kubernetes-${KUBERNETES_VERSION}"

# Per tool: the wrapper Go module, the package to build in it, and -X flags.
module_dir() {
	case $1 in
	pulumi) echo "$here/go/pulumi-cli" ;;
	pulumi-language-nodejs) echo "$here/go/language-nodejs" ;;
	pulumi-resource-kubernetes) echo "$here/go/kubernetes-provider" ;;
	pulumi-language-yaml) echo "$here/go/language-yaml" ;;
	esac
}
main_package() {
	case $1 in
	pulumi) echo "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi" ;;
	pulumi-language-yaml) echo "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml" ;;
	*) echo "." ;;
	esac
}
version_ldflags() {
	case $1 in
	pulumi) echo "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}" ;;
	pulumi-language-nodejs) echo "-X main.version=${PULUMI_VERSION}" ;;
	pulumi-resource-kubernetes) echo "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${KUBERNETES_VERSION}" ;;
	pulumi-language-yaml) echo "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=${YAML_VERSION}" ;;
	esac
}
# What the built binary must print when asked for its version.
expected_version_output() {
	case $1 in
	pulumi) echo "v${PULUMI_VERSION}" ;;
	pulumi-language-nodejs) echo "${PULUMI_VERSION}" ;;
	pulumi-resource-kubernetes) echo "${KUBERNETES_VERSION}" ;;
	pulumi-language-yaml) echo "v${YAML_VERSION}" ;;
	esac
}
version_of() { # $1 tool name, $2 binary path
	case $1 in
	pulumi) PULUMI_SKIP_UPDATE_CHECK=true "$2" version 2>/dev/null ;;
	# Upstream's host has no --version: it must start (-help exits 0), and its build info names
	# the pulumi-yaml module it was built from (`mod` when built as that module's own command).
	pulumi-language-yaml) "$2" -help >/dev/null 2>&1 && go version -m "$2" 2>/dev/null |
		awk '($1 == "mod" || $1 == "dep") && $2 == "github.com/pulumi/pulumi-yaml" { print $3 }' ;;
	*) "$2" --version 2>/dev/null ;;
	esac
}

# Everything a tool's binary is built from: the wrapper module (go.mod, go.sum, Go sources), the
# version flags and the build flags.
fingerprint() { # $1 tool name
	module_hashes "$(module_dir "$1")" | digest "$(version_ldflags "$1")"
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
	[[ -x $dir/pulumi-language-nodejs && -x $dir/pulumi-language-yaml && -x $dir/pulumi-resource-kubernetes ]] || return 1
	v=$(PULUMI_SKIP_UPDATE_CHECK=true "$p" version 2>/dev/null) || return 1
	version_ge "$v" "$PULUMI_VERSION" || return 1
	v=$("$dir/pulumi-resource-kubernetes" --version 2>/dev/null) || return 1
	[[ ${v#v} == "$KUBERNETES_VERSION" ]] || return 1
	echo "$dir"
}

# --- building ----------------------------------------------------------------

# Fail early, with a hint, when a go.mod was not updated after a version bump.
check_requires() { # $1 tool name
	local gomod
	gomod=$(module_dir "$1")/go.mod
	case $1 in
	pulumi) require_in_go_mod "$gomod" "github.com/pulumi/pulumi/pkg/v3 v${PULUMI_VERSION}" "github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}" ;;
	pulumi-language-nodejs) require_in_go_mod "$gomod" "github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}" ;;
	pulumi-resource-kubernetes) require_in_go_mod "$gomod" "github.com/pulumi/pulumi-kubernetes/provider/v4 ${KUBERNETES_PROVIDER_MODULE_VERSION}" ;;
	pulumi-language-yaml) require_in_go_mod "$gomod" "github.com/pulumi/pulumi-yaml v${YAML_VERSION}" ;;
	esac
}

# The provider embeds two JSON files generated from files in its module: they are generated in
# a scratch copy of the wrapper module, and the provider is built there.
source_dir() { # $1 tool name, $2 scratch dir
	local src work
	src=$(module_dir "$1")
	if [[ $1 != pulumi-resource-kubernetes ]]; then
		echo "$src"
		return
	fi
	work=$2/kubernetes-provider
	mkdir -p "$work"
	cp -R "$src/." "$work/"
	log "generating the kubernetes provider's embedded schema (${KUBERNETES_VERSION})"
	if ! (cd "$work" && env "${go_build_env[@]}" go run -mod=readonly -buildvcs=false ./internal/genembed \
		-version "$KUBERNETES_VERSION" -out .) >&2; then
		die "generating the kubernetes provider schema failed (see above)"
	fi
	echo "$work"
}

check_binary() { # $1 tool name, $2 binary path
	local got want
	want=$(expected_version_output "$1")
	got=$(version_of "$1" "$2") || die "the freshly built $1 does not run ($2)"
	[[ $got == "$want" ]] || die "the freshly built $1 reports version '$got', expected '$want'"
}

sync_go_mod() {
	update_module "$(module_dir pulumi)" "github.com/pulumi/pulumi/pkg/v3@v${PULUMI_VERSION}" \
		"github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}"
	update_module "$(module_dir pulumi-language-nodejs)" "github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}"
	update_module "$(module_dir pulumi-resource-kubernetes)" "github.com/pulumi/pulumi-kubernetes/provider/v4@${KUBERNETES_PROVIDER_MODULE_VERSION}" \
		"github.com/pulumi/pulumi-kubernetes/sdk/v4@v${KUBERNETES_VERSION}"
	# With the pkg/sdk versions pulumi-yaml's own go.mod pins, not the CLI's: its code generator
	# follows pkg's API, which changes between minor versions.
	update_module "$(module_dir pulumi-language-yaml)" "github.com/pulumi/pulumi-yaml@v${YAML_VERSION}"
}

# --- main ----------------------------------------------------------------------

handle_args "$@"

if [[ ${MODEL_CANARY_TOOLCHAIN_IGNORE_PATH:-} != 1 ]] && dir=$(path_toolchain_dir); then
	echo "$dir"
	exit 0
fi

provide
