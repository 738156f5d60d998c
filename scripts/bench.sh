#!/usr/bin/env bash
# Benchmark of rtsp2mjpeg on this machine (issue 4): builds the daemon,
# cmd/testcam and scripts/benchtool into a temporary directory, runs the
# benchtool (synthetic 720p15 RTSP cameras, the daemon, ffmpeg alone and a
# bare loopback writer, all on 127.0.0.1) and prints a markdown report.
#
#   ./scripts/bench.sh              the full run (about 5 minutes, < 10)
#   ./scripts/bench.sh --quick      short windows (about 2 minutes)
#   ./scripts/bench.sh --out FILE   also write the report to FILE
#   ./scripts/bench.sh --site       the site benchmark of issue 12 instead:
#                                   8 cameras at full rate and in standby
#                                   (about 5 minutes; --site --quick about 2)
#
# Other arguments go to `benchtool run` (see `benchtool run --help`:
# --window, --loads, --starts, ...), or with --site to `benchtool site`
# (--window, --arrivals, --cams, ...). Progress goes to stderr, the report to
# stdout. Nothing is installed but by scripts/setup.sh (ffmpeg when missing).
set -euo pipefail

mode=run
args=()
for a in "$@"; do
	if [ "$a" = "--site" ]; then
		mode=site
	else
		args+=("$a")
	fi
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
./scripts/setup.sh

bin="$(mktemp -d "${TMPDIR:-/tmp}/rtsp2mjpeg-bench.XXXXXX")"
trap 'rm -rf "$bin"' EXIT

echo "bench.sh: building into $bin ..." >&2
go build -o "$bin/rtsp2mjpeg" ./cmd/rtsp2mjpeg
go build -o "$bin/testcam" ./cmd/testcam
go build -o "$bin/benchtool" ./scripts/benchtool

source="working tree"
if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
	source="commit $(git rev-parse --short HEAD)"
	if ! git diff --quiet HEAD -- cmd httpapi pipeline go.mod go.sum 2>/dev/null; then
		source="$source + uncommitted changes in cmd/, httpapi/, pipeline/"
	fi
fi

echo "bench.sh: load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
"$bin/benchtool" "$mode" --daemon "$bin/rtsp2mjpeg" --testcam "$bin/testcam" --source "$source" ${args[@]+"${args[@]}"}
