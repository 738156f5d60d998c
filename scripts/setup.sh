#!/usr/bin/env bash
# Checks (and where it can, installs) what rtsp2mjpeg needs to build, run and
# test. Idempotent and quiet when everything is already present.
#
#   scripts/setup.sh              go >= 1.26, ffmpeg, ffprobe
#   scripts/setup.sh --race       ... and a C compiler (go test -race needs cgo)
#   scripts/setup.sh --browser    ... and chromium + chromium-driver (browser tests)
#
# Missing Debian packages are installed with apt-get (through sudo when not
# root); `apt-get update` runs only when an install fails without it.
set -euo pipefail

want_browser=0
want_race=0
for arg in "$@"; do
	case "$arg" in
	--browser) want_browser=1 ;;
	--race) want_race=1 ;;
	-h | --help)
		sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "setup.sh: unknown argument: $arg (want --browser, --race)" >&2
		exit 2
		;;
	esac
done

say() { echo "setup.sh: $*" >&2; }

# --- Go ---------------------------------------------------------------------
min_go_major=1
min_go_minor=26
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
	say "go not found. Install Go ${min_go_major}.${min_go_minor} or newer:"
	say "  https://go.dev/doc/install  (e.g. unpack a go1.${min_go_minor}.x linux tarball into /usr/local"
	say "  and add /usr/local/go/bin to PATH)"
	exit 1
fi
# GOTOOLCHAIN=local: report the installed toolchain, not one go.mod would fetch.
gover="$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || true)"
if [[ "$gover" =~ ^go([0-9]+)\.([0-9]+) ]]; then
	major="${BASH_REMATCH[1]}"
	minor="${BASH_REMATCH[2]}"
	if ((major < min_go_major || (major == min_go_major && minor < min_go_minor))); then
		say "$gover is too old: rtsp2mjpeg needs go ${min_go_major}.${min_go_minor} or newer."
		say "  Install a newer Go from https://go.dev/doc/install (into /usr/local/go)."
		exit 1
	fi
elif [ -n "$gover" ]; then
	: # devel or unusual version string: trust it
else
	say "could not read the Go version (go env GOVERSION failed)"
	exit 1
fi

# --- Debian packages ----------------------------------------------------------
missing=()
need() { # need PACKAGE COMMAND...: PACKAGE is missing unless one COMMAND exists
	local pkg="$1"
	shift
	local c
	for c in "$@"; do
		if command -v "$c" >/dev/null 2>&1; then
			return 0
		fi
	done
	missing+=("$pkg")
}

need ffmpeg ffmpeg
need ffmpeg ffprobe
need curl curl # the cron snapshot script and its test
if ((want_race)); then
	need gcc gcc cc
	# cgo also needs the C library headers.
	if ! [ -e /usr/include/stdlib.h ] && command -v dpkg >/dev/null 2>&1; then
		missing+=(libc6-dev)
	fi
fi
if ((want_browser)); then
	need chromium chromium chromium-browser
	need chromium-driver chromedriver
	# Viewer compatibility tests read the stream with OpenCV, through
	# Debian's python3 (a pyenv python3 first on PATH may lack cv2).
	if ! /usr/bin/python3 -c 'import cv2' >/dev/null 2>&1; then
		missing+=(python3-opencv)
	fi
fi

if ((${#missing[@]} == 0)); then
	exit 0
fi
# Deduplicate (ffmpeg provides both ffmpeg and ffprobe).
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if ! command -v apt-get >/dev/null 2>&1; then
	say "missing: ${missing[*]}; no apt-get here, install them with your package manager"
	say "  (e.g. macOS: brew install ffmpeg chromium; Alpine: apk add ffmpeg chromium chromium-chromedriver)"
	exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo_cmd=(sudo)
	else
		say "missing: ${missing[*]}; not root and no sudo: run as root: apt-get install -y ${missing[*]}"
		exit 1
	fi
fi

apt() {
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -q "$@"
}

log="$(mktemp "${TMPDIR:-/tmp}/rtsp2mjpeg-setup.XXXXXX")"
trap 'rm -f "$log"' EXIT

say "installing ${missing[*]} (apt-get) ..."
if ! apt install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
	say "install failed without a package list refresh; running apt-get update and retrying ..."
	if ! { apt update >>"$log" 2>&1 && apt install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; then
		cat "$log" >&2
		say "could not install ${missing[*]}; install them by hand: apt-get install -y ${missing[*]}"
		exit 1
	fi
fi

# Verify that the commands are there now.
for c in ffmpeg ffprobe; do
	command -v "$c" >/dev/null 2>&1 || {
		say "$c still missing after install"
		exit 1
	}
done
if ((want_browser)); then
	{ command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 || {
		say "chromium still missing after install"
		exit 1
	}
	command -v chromedriver >/dev/null 2>&1 || {
		say "chromedriver still missing after install"
		exit 1
	}
fi
if ((want_race)); then
	{ command -v gcc || command -v cc; } >/dev/null 2>&1 || {
		say "gcc still missing after install"
		exit 1
	}
fi
say "installed ${missing[*]}"
