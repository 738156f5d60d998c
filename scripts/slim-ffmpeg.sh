#!/usr/bin/env bash
# Builds the image's slim ffmpeg here (deploy/ffmpeg/build.sh with
# deploy/ffmpeg/configure-flags, the two files the Dockerfile's ffmpeg stage
# runs) and tests the daemon's own argv against it (deploy/ffmpeg's Go test:
# every source kind, profile, idle mode and codec). scripts/test.sh runs it.
#
#   scripts/slim-ffmpeg.sh            build (or reuse the cached build), then test
#   scripts/slim-ffmpeg.sh --build    build only; prints the directory of the binaries
#
# The build is cached under $RTSP2MJPEG_FFMPEG_CACHE (default
# ~/.cache/rtsp2mjpeg/ffmpeg-slim), keyed by the content of build.sh and
# configure-flags: it is rebuilt when either changes (about 5 minutes on 2
# cores, less with ccache's cache warm). Delete the directory to build again
# from Debian's newest source. Build dependencies are installed with apt-get
# (through sudo when not root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
say() { echo "slim-ffmpeg: $*" >&2; }

build_only=0
case "${1:-}" in
"") ;;
--build) build_only=1 ;;
*)
	say "unknown argument: $1 (want --build or nothing)"
	exit 2
	;;
esac

key=$(cat deploy/ffmpeg/build.sh deploy/ffmpeg/configure-flags | sha256sum | cut -c1-12)
cache=${RTSP2MJPEG_FFMPEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtsp2mjpeg/ffmpeg-slim}
dir="$cache/$key"

if [ -x "$dir/bin/ffmpeg" ] && [ -x "$dir/bin/ffprobe" ]; then
	say "using the cached build $dir (key $key: build.sh + configure-flags)"
else
	deps=(build-essential pkg-config nasm dpkg-dev ccache libgnutls28-dev libx264-dev zlib1g-dev debian-archive-keyring)
	missing=()
	for p in "${deps[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if ((${#missing[@]})); then
		sudo=()
		if [ "$(id -u)" != 0 ]; then
			command -v sudo >/dev/null 2>&1 || { say "need root or sudo to install: ${missing[*]}"; exit 1; }
			sudo=(sudo)
		fi
		say "installing the build dependencies: ${missing[*]}"
		"${sudo[@]}" apt-get update -qq
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	say "building into $dir (about 5 minutes on 2 cores the first time)"
	t0=$SECONDS
	rm -rf "$dir.tmp"
	SKIP_DEPS=1 sh deploy/ffmpeg/build.sh "$work" "$dir.tmp" >"$work/build.log" 2>&1 || {
		tail -n 30 "$work/build.log" >&2
		say "build failed"
		exit 1
	}
	grep -E '^(configure|source|built):' "$work/build.log" >&2 || true
	rm -rf "$dir" && mv "$dir.tmp" "$dir"
	say "built in $((SECONDS - t0)) s"
fi
ls -l "$dir/bin" >&2

# Every shared library the build links must come with a package that the
# Dockerfile's runtime stage installs (or one of their dependencies): a
# flag that links one more library (--enable-libdav1d...) fails here, not
# in a user's container with "error while loading shared libraries".
runtime_libs_check() {
	local pkgs closure lib real pkg bad=0
	pkgs=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | sed -n '/^FROM debian:bookworm-slim$/,$p' |
		sed -n 's/.*apt-get install -y --no-install-recommends \([^&]*\).*/\1/p' | xargs)
	if [ -z "$pkgs" ]; then
		say "cannot read the runtime stage's apt-get install line in the Dockerfile"
		return 1
	fi
	# shellcheck disable=SC2086
	closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances $pkgs 2>/dev/null | grep -v '^ ' | sort -u)
	while read -r lib; do
		[ -n "$lib" ] || continue
		if [ "$lib" = "not" ]; then
			say "a library of the build is not found: $(ldd "$dir/bin/ffmpeg" "$dir/bin/ffprobe" | grep 'not found' | head -n1)"
			bad=1
			continue
		fi
		real=$(readlink -f "$lib")
		pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || true)
		pkg=${pkg%%:*}
		if [ -z "$pkg" ]; then
			say "no package owns $lib, which the build links"
			bad=1
		elif ! grep -qx "$pkg" <<<"$closure"; then
			say "the build links $lib from $pkg, which the Dockerfile's runtime stage does not install (apt-get install $pkgs)"
			bad=1
		fi
	done < <(ldd "$dir/bin/ffmpeg" "$dir/bin/ffprobe" | awk '/=>/{print $3}' | sort -u)
	((bad == 0)) && say "every library it links comes with the runtime stage's packages ($pkgs)"
	return "$bad"
}
runtime_libs_check

if ((build_only)); then
	echo "$dir/bin"
	exit 0
fi
say "the daemon's argv against $dir/bin/ffmpeg"
RTSP2MJPEG_TEST_FFMPEG_DIR="$dir/bin" go test -count=1 ./deploy/ffmpeg/
