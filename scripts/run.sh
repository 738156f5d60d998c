#!/usr/bin/env bash
# Runs the daemon from source, after checking its prerequisites.
#
#   ./scripts/run.sh --demo                   then open http://localhost:8007
#   ./scripts/run.sh --url 'rtsp://user:pass@192.0.2.10:554/stream1'
#
# Every argument goes to rtsp2mjpeg (see `./scripts/run.sh --help`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

./scripts/setup.sh
# Build, then exec the binary itself (not `go run`), so that signals such as
# SIGTERM from a service manager reach the daemon.
go build -o bin/rtsp2mjpeg ./cmd/rtsp2mjpeg
exec bin/rtsp2mjpeg "$@"
