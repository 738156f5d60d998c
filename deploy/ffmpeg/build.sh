#!/bin/sh
# Build the slim ffmpeg and ffprobe from Debian bookworm's own patched source
# (bookworm + bookworm-security), configured with deploy/ffmpeg/configure-flags.
#
#   deploy/ffmpeg/build.sh [WORKDIR [DESTDIR]]
#
# WORKDIR (default /tmp/ffmpeg-slim) gets the source; DESTDIR (default
# WORKDIR/out) gets bin/ffmpeg and bin/ffprobe, stripped. Runs as root in a
# Debian bookworm environment (the Dockerfile's build stage, or a bookworm
# host). Build dependencies: see BUILD_DEPS; JOBS defaults to nproc. If
# ccache is installed it is used (CCACHE_DIR).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/ffmpeg-slim}
dest=${2:-$work/out}
jobs=${JOBS:-$(nproc)}
BUILD_DEPS="build-essential pkg-config nasm dpkg-dev libgnutls28-dev libx264-dev zlib1g-dev"

mkdir -p "$work/lists/partial"
cd "$work"

# deb-src for bookworm and bookworm-security, in a sources file of our own:
# the system's apt configuration is left alone.
cat > src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_src="-o Dir::Etc::SourceList=$work/src.sources -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$work/lists"

if [ "${SKIP_DEPS:-}" != 1 ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $BUILD_DEPS
fi

# apt-get source picks the newest version of the two suites (security
# fixes included) and dpkg-source applies Debian's patches.
# shellcheck disable=SC2086
apt-get $apt_src update -qq
rm -rf ffmpeg-[0-9]*/
# shellcheck disable=SC2086
apt-get $apt_src source -qq ffmpeg
src=$(ls -d ffmpeg-[0-9]*/ | head -n1)
cd "$src"

# The flags file without comments and blank lines.
flags=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/configure-flags")
# ccache, when installed, through its gcc masquerade on PATH rather than
# --cc="ccache gcc": the configure line is compiled into the binary, which
# then is byte for byte the same with and without ccache (the Dockerfile
# builds without it, scripts/slim-ffmpeg.sh with it, and the two binaries
# must be the one tested and the one shipped).
cc=gcc
if [ -x /usr/lib/ccache/gcc ]; then
	PATH=/usr/lib/ccache:$PATH
	cc="gcc (ccache)"
fi
t0=$(date +%s)
# shellcheck disable=SC2086
./configure $flags
t1=$(date +%s)
make -j"$jobs" ffmpeg ffprobe
t2=$(date +%s)
echo "configure: $((t1 - t0)) s, make -j$jobs: $((t2 - t1)) s (cc: $cc)"

mkdir -p "$dest/bin" "$dest/share/doc/ffmpeg"
install -m 0755 -s ffmpeg ffprobe "$dest/bin/"
# Where the binaries come from, for the GPL's offer of source and for a
# reader wondering which security fixes they carry.
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
{
	echo "ffmpeg and ffprobe in /usr/local/bin are built from Debian's source package"
	echo "ffmpeg $version (bookworm / bookworm-security, with Debian's patches):"
	echo "  apt-get source ffmpeg=$version"
	echo "configured with rtsp2mjpeg's deploy/ffmpeg/configure-flags:"
	echo "  ./configure $(echo $flags)"
	echo "Licence: GPL version 2 or later (--enable-gpl, for libx264); see COPYING.GPLv2."
} >"$dest/share/doc/ffmpeg/SOURCE"
install -m 0644 COPYING.GPLv2 "$dest/share/doc/ffmpeg/"
echo "source: ffmpeg $version"
echo "built: $(cd "$dest/bin" && ls -l ffmpeg ffprobe)"
