#!/usr/bin/env bash
# Provide pulumi-sdkgen, which writes the Go and Python SDKs of a Pulumi package schema with the
# code generators of Pulumi ${PULUMI_VERSION} (toolchain/versions.env), and print the directory that
# holds it as the last (and only) line of stdout. `npm run -s sdk:gen` and test/sdk-gen.test.ts use it.
#
# Usage:
#   bash toolchain/sdkgen/ensure.sh
#   bash toolchain/sdkgen/ensure.sh --sync   # after editing PULUMI_VERSION: rewrite go/go.mod
#
# `pulumi package gen-sdk` hands each language to that language's host, and Pulumi's Go and Python
# hosts cannot be built here (their modules are not served), so this wrapper module calls the same
# generators (github.com/pulumi/pulumi/pkg/v3 codegen/go, codegen/python) itself. It is built on
# demand, not by `npm run toolchain`, into a cache outside the repository keyed by the version:
#   ${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-canary}/toolchain/sdkgen-pulumi-<version>/bin
# with a fingerprint of its sources beside it, like the toolchain's binaries. It shares the pulumi
# CLI's pkg/v3 version, so after `npm run toolchain` its build reuses the CLI's compiled packages.
#
# Progress and errors go to stderr; the exit status is non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/go
log_tag="toolchain(sdkgen)"
subject="the SDK generator"
# shellcheck source=../lib.sh
source "$here/../lib.sh"

# The Pulumi version is the toolchain's own (one versions.env for both).
here="$here/.." load_versions PULUMI_VERSION

readonly tools=(pulumi-sdkgen)
readonly data_files=()

use_cache_dir "sdkgen-pulumi-${PULUMI_VERSION}"

module_dir() { echo "$src"; }
main_package() { echo "."; }
version_ldflags() { echo "-X main.version=${PULUMI_VERSION}"; }
fingerprint() { # $1 tool name
	module_hashes "$src" | digest "$(version_ldflags "$1")"
}
check_requires() { # $1 tool name
	require_in_go_mod "$src/go.mod" "github.com/pulumi/pulumi/pkg/v3 v${PULUMI_VERSION}"
}
check_binary() { # $1 tool name, $2 path
	local got
	got=$("$2" --version 2>/dev/null) || die "the freshly built $1 does not run ($2)"
	[[ $got == "$PULUMI_VERSION" ]] || die "the freshly built $1 reports version '$got', expected '$PULUMI_VERSION'"
}
sync_go_mod() {
	update_module "$src" "github.com/pulumi/pulumi/pkg/v3@v${PULUMI_VERSION}" "github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION}"
}

handle_args "$@"
provide
