#!/usr/bin/env bash
# Bounded soak of rtsp2mjpeg (issue 5): builds the daemon and
# scripts/soaktool into a temporary directory and runs the soak: three
# synthetic RTSP cameras on 127.0.0.1 (camera c reboots every 30 s), the
# daemon serving them, 50 viewers connecting and leaving at random. Every
# 10 s it prints a row of the daemon's goroutines, threads, RSS, open fds,
# CPU and ffmpeg processes; at the end, a summary.
#
#   ./scripts/soak.sh                      10 minutes
#   SOAK_DURATION=1h ./scripts/soak.sh     longer (any Go duration)
#   ./scripts/soak.sh -viewers 100 -size 640x360 -daemon-log /tmp/d.log
#
# Other arguments go to soaktool (`go run ./scripts/soaktool -h`). Exit 1
# when a sampled number grows without bound (the last third's max over 1.5
# times the first third's plus slack), a viewer of a healthy camera waits
# more than 2 s for a frame, a request fails, the daemon runs more ffmpeg
# than cameras, or it does not stop within 5 s of SIGTERM with exit 0.
# CI runs a 30 s version: go test ./scripts/soaktool (TestSoakShort).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
./scripts/setup.sh

bin="$(mktemp -d "${TMPDIR:-/tmp}/rtsp2mjpeg-soak.XXXXXX")"
trap 'rm -rf "$bin"' EXIT

echo "soak.sh: building into $bin ..." >&2
go build -o "$bin/rtsp2mjpeg" ./cmd/rtsp2mjpeg
go build -o "$bin/soaktool" ./scripts/soaktool

"$bin/soaktool" -daemon "$bin/rtsp2mjpeg" -duration "${SOAK_DURATION:-10m}" "$@"
