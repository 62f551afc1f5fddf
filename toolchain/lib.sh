# What toolchain/ensure.sh, toolchain/cluster/ensure.sh and toolchain/dataplane/ensure.sh share:
# messages, the cache directory, fingerprints, the lock under which one run builds while the
# others wait, atomic installs, the Go build and the command line. Sourced by them, not run.
#
# Before sourcing, the script sets
#   here      its own directory (versions.env is read from there)
#   log_tag   the prefix of its messages on stderr: toolchain, toolchain(cluster), ...
#   subject   what it provides, for messages: "the Pulumi toolchain", ...
# and after sourcing it defines
#   tools, data_files      arrays of what bin_dir holds (data_files may be empty)
#   module_dir NAME        the Go module a tool is built in
#   main_package NAME      the package `go build` builds there
#   version_ldflags NAME   the -X flags that stamp its version
#   fingerprint NAME       what is recorded beside NAME (module_hashes, digest)
#   check_requires NAME    fails (die) when versions.env and the module's go.mod disagree
#   check_binary NAME PATH fails (die) unless the freshly built binary runs as expected
#   make_data_file NAME SCRATCH  writes a data file (only with data files)
#   sync_go_mod            what --sync does
# and may redefine source_dir NAME SCRATCH (where `go build` runs; by default module_dir).
#
# Stdout carries one line, the directory (`provide`); everything else goes to stderr.

script_path=${BASH_SOURCE[1]}
lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# How a developer runs the sourcing script from the repository root, for hints.
script_command="bash toolchain${here#"$lib_dir"}/ensure.sh"

log() { printf '%s: %s\n' "$log_tag" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$log_tag" "$*" >&2
	exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Sources $here/versions.env and fails unless each named variable is set and not empty.
load_versions() { # $@ variable names
	# shellcheck source=/dev/null
	source "$here/versions.env" || die "cannot read $here/versions.env"
	local v
	for v; do
		[[ -n ${!v:-} ]] || die "$v missing from $here/versions.env"
	done
}

# Sets toolchain_dir (this kind of build, in the cache shared by every checkout: the caller's
# name keys it by the versions) and bin_dir (what `provide` prints).
use_cache_dir() { # $1 directory name under <cache>/toolchain
	cache_root=${MODEL_CANARY_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set; set MODEL_CANARY_CACHE}/.cache}/model-canary}
	[[ $cache_root == /* ]] || cache_root=$PWD/$cache_root
	toolchain_dir=$cache_root/toolchain/$1
	bin_dir=$toolchain_dir/bin
}

# The Go build flags shared by every binary; part of every fingerprint.
go_build_flags=(-mod=readonly -trimpath -buildvcs=false)
go_build_env=(CGO_ENABLED=0 GOWORK=off)

# --- fingerprints ------------------------------------------------------------
# Each file in bin_dir has a stamp .<name>.stamp beside it: a digest of what it was built from.
# A missing or different stamp means "rebuild". The scripts themselves are not part of it, so
# changing them rebuilds nothing; the flags they pass are.

# sha256sum lines of a Go module's .go files, go.mod and go.sum, in a fixed order.
module_hashes() { # $1 module directory
	(cd "$1" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
		LC_ALL=C sort -z | xargs -0 sha256sum)
}

# A digest of stdin (file hashes), then the given lines, then the Go build flags.
digest() { # $@ lines
	{
		cat
		printf '%s\n' "$@" "${go_build_flags[*]}" "${go_build_env[*]}"
	} | sha256sum | cut -d' ' -f1
}

is_data_file() { # $1 name
	local f
	for f in "${data_files[@]}"; do
		[[ $f == "$1" ]] && return 0
	done
	return 1
}

up_to_date() { # $1 tool or data file
	[[ -f $bin_dir/$1 && -f $bin_dir/.$1.stamp ]] || return 1
	is_data_file "$1" || [[ -x $bin_dir/$1 ]] || return 1
	[[ $(<"$bin_dir/.$1.stamp") == "$(fingerprint "$1")" ]]
}

all_up_to_date() {
	local t
	for t in "${tools[@]}" "${data_files[@]}"; do
		up_to_date "$t" || return 1
	done
}

# --- building ----------------------------------------------------------------

need_go() {
	command -v go >/dev/null 2>&1 ||
		die "the Go toolchain (go) is not on PATH; it is needed to build $subject"
}

# Fails, with the command that fixes it, unless the go.mod requires each module at its version
# (versions.env was edited without --sync).
require_in_go_mod() { # $1 go.mod, $2... "module version"
	local gomod=$1 w
	shift
	for w; do
		grep -Eq "^[[:space:]]*(require[[:space:]]+)?${w//./\\.}( |$)" "$gomod" ||
			die "$gomod does not require '$w' (versions.env changed?); run: $script_command --sync"
	done
}

source_dir() { # $1 tool name, $2 scratch dir; prints where `go build` runs
	module_dir "$1"
}

# Moves a finished file into place atomically (same file system), then records its fingerprint;
# an interrupted run leaves either no file or a file without a matching stamp: both are redone.
install_file() { # $1 name, $2 scratch dir, $3 fingerprint
	mv -f "$2/$1" "$bin_dir/$1"
	printf '%s\n' "$3" >"$2/$1.stamp"
	mv -f "$2/$1.stamp" "$bin_dir/.$1.stamp"
}

build_tool() { # $1 tool name, $2 scratch dir
	local name=$1 scratch=$2 start fp dir pkg
	start=$(now)
	check_requires "$name"
	fp=$(fingerprint "$name")
	dir=$(source_dir "$name" "$scratch") || exit 1
	pkg=$(main_package "$name")
	log "building $name (go build $pkg in $(module_dir "$name"))"
	if ! (cd "$dir" && env "${go_build_env[@]}" go build "${go_build_flags[@]}" \
		-ldflags "-s -w $(version_ldflags "$name")" -o "$scratch/$name" "$pkg") >&2; then
		die "building $name failed (see the go output above)"
	fi
	check_binary "$name" "$scratch/$name"
	install_file "$name" "$scratch" "$fp"
	log "built $name in $(elapsed "$start")s"
}

# Builds what is missing or stale. Runs hold an exclusive lock on <toolchain_dir>/.lock while
# they build: a second run waits for the first, then finds its work done (each file is checked
# again under the lock) and builds nothing.
ensure_built() {
	mkdir -p "$bin_dir" || die "cannot create $bin_dir"
	local lock=$toolchain_dir/.lock
	exec 9>"$lock" || die "cannot open lock file $lock"
	if ! flock -n 9; then
		log "waiting for another build of $subject to finish (lock: $lock)"
		flock 9 || die "cannot lock $lock"
	fi

	# Holding the lock: leftovers of interrupted runs can go.
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
	log "$subject ready in $bin_dir ($(elapsed "$start")s)"
}

# --sync: `go get` in a wrapper module (nothing to get: only `go mod tidy`).
update_module() { # $1 module directory, $2... go get arguments
	local d=$1
	shift
	log "updating $d"
	(cd "$d" && { [[ $# -eq 0 ]] || GOWORK=off go get "$@"; } && GOWORK=off go mod tidy) >&2 ||
		die "updating $d failed"
}

# --- the command line ----------------------------------------------------------

# Every ensure.sh takes no argument, --sync or --help; this returns only for no argument.
handle_args() {
	case ${1:-} in
	"") ;;
	--sync)
		need_go
		sync_go_mod
		log "go.mod/go.sum files updated; review and commit them with versions.env"
		exit 0
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$script_path" | sed '$d; s/^# \{0,1\}//' >&2
		exit 0
		;;
	*) die "unknown argument '$1' (try --help)" ;;
	esac
}

# Prints bin_dir as the only line of stdout, after building what is missing or stale.
provide() {
	if ! all_up_to_date; then
		ensure_built
	fi
	echo "$bin_dir"
}
