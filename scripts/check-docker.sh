#!/usr/bin/env bash
# Checks the Docker packaging without a Docker engine:
#   1. docker-compose.yml parses and has the keys users rely on
#      (python3 + PyYAML, and `docker compose config` when the plugin exists);
#   2. the Dockerfile has its contract lines, and hadolint passes (if installed);
#   3. the Dockerfile's own `go build` command, run here, builds a static
#      binary whose `version` shows the -X main.version value.
# A check whose tool is missing is skipped with a message, never failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

fail=0
ran=0
ok() { echo "check-docker: ok: $*"; }
bad() {
	echo "check-docker: FAIL: $*" >&2
	fail=1
}
skip() { echo "check-docker: skipped: $*"; }

for f in Dockerfile .dockerignore docker-compose.yml .env.example; do
	[ -f "$f" ] || bad "$f is missing"
done
((fail == 0)) || exit 1

# ---- 1. docker-compose.yml ----------------------------------------------------
python=""
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' >/dev/null 2>&1; then
		python="$p"
		break
	fi
done
if [ -n "$python" ]; then
	ran=$((ran + 1))
	if "$python" - docker-compose.yml <<'PY'; then
import sys, yaml

path = sys.argv[1]
with open(path) as f:
    doc = yaml.safe_load(f)
errs = []
def check(cond, msg):
    if not cond:
        errs.append(msg)

svc = ((doc or {}).get("services") or {}).get("rtsp2mjpeg")
check(isinstance(svc, dict), "services.rtsp2mjpeg is missing")
svc = svc if isinstance(svc, dict) else {}
check(svc.get("build") in (".", "./") or (isinstance(svc.get("build"), dict) and svc["build"].get("context") in (".", "./")), "build: . is missing")
check(svc.get("image") == "rtsp2mjpeg:latest", "image is not rtsp2mjpeg:latest")
check("8007:8007" in [str(p) for p in svc.get("ports") or []], "ports lacks 8007:8007")
env = svc.get("environment") or {}
if isinstance(env, list):
    env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
url = str(env.get("RTSP2MJPEG_URL", ""))
check(url.startswith("${RTSP2MJPEG_URL:?"), "environment.RTSP2MJPEG_URL should be ${RTSP2MJPEG_URL:?message}")
check("RTSP2MJPEG_LOG_LEVEL" in env, "environment.RTSP2MJPEG_LOG_LEVEL is missing")
check(svc.get("restart") == "unless-stopped", "restart is not unless-stopped")
check(svc.get("init") is True, "init: true is missing")
check(svc.get("read_only") is True, "read_only: true is missing")
check("ALL" in (svc.get("cap_drop") or []), "cap_drop: [ALL] is missing")
check("no-new-privileges:true" in (svc.get("security_opt") or []), "security_opt lacks no-new-privileges:true")
hc = svc.get("healthcheck") or {}
test = hc.get("test")
test = " ".join(test) if isinstance(test, list) else str(test or "")
check("/healthz" in test and ":8007" in test and ("curl" in test or "healthcheck" in test), "healthcheck does not ask :8007/healthz")
for k in ("interval", "timeout", "retries"):
    check(k in hc, "healthcheck.%s is missing" % k)
for e in errs:
    print("docker-compose.yml: " + e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
		ok "docker-compose.yml parses (PyYAML) and has the required keys"
	else
		bad "docker-compose.yml"
	fi
else
	skip "PyYAML check of docker-compose.yml (no python3 with yaml; apt-get install python3-yaml)"
fi

compose=()
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
	compose=(docker-compose)
fi
if ((${#compose[@]})); then
	ran=$((ran + 1))
	# `config` needs no engine. --env-file /dev/null: ignore a developer's .env.
	# Without the URL, compose must refuse and say what to set.
	if out="$(env -u RTSP2MJPEG_URL "${compose[@]}" --env-file /dev/null -f docker-compose.yml config -q 2>&1)"; then
		bad "${compose[*]} config accepted docker-compose.yml without RTSP2MJPEG_URL"
	elif printf '%s' "$out" | grep -q 'set RTSP2MJPEG_URL in .env'; then
		ok "${compose[*]} config refuses an unset RTSP2MJPEG_URL with a hint"
	else
		bad "${compose[*]} config without RTSP2MJPEG_URL failed without the hint: $out"
	fi
	if RTSP2MJPEG_URL='rtsp://user:pass@192.0.2.10:554/stream1' \
		"${compose[@]}" --env-file /dev/null -f docker-compose.yml config -q; then
		ok "${compose[*]} config accepts docker-compose.yml"
	else
		bad "${compose[*]} config rejects docker-compose.yml"
	fi
else
	skip "compose config check (neither 'docker compose' nor 'docker-compose' is installed)"
fi

# ---- 2. Dockerfile ----------------------------------------------------------------
# Join continuation lines so that each instruction is one line.
instructions="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Dockerfile | grep -v '^[[:space:]]*#' | grep -v '^[[:space:]]*$')"
ran=$((ran + 1))
dockerfile_ok=1
need_line() { # need_line REGEX DESCRIPTION
	if ! printf '%s\n' "$instructions" | grep -Eq "$1"; then
		bad "Dockerfile: $2"
		dockerfile_ok=0
	fi
}
need_line '^FROM golang:1\.26-bookworm AS build$' "build stage is not FROM golang:1.26-bookworm AS build"
need_line '^RUN go mod download$' "no go mod download layer"
need_line '^ARG VERSION=dev$' "no ARG VERSION=dev"
need_line '^RUN CGO_ENABLED=0 go build -trimpath .*-X main\.version=\$\{VERSION\}.* \./cmd/rtsp2mjpeg$' "no CGO_ENABLED=0 go build of ./cmd/rtsp2mjpeg"
# The Go stage comes first: container-check.sh stands in for the first
# "FROM ... AS" image with a Go toolchain.
if [ "$(printf '%s\n' "$instructions" | grep -m1 -E '^FROM .* AS ')" != "FROM golang:1.26-bookworm AS build" ]; then
	bad "Dockerfile: the first stage is not FROM golang:1.26-bookworm AS build"
	dockerfile_ok=0
fi
need_line '^FROM debian:bookworm-slim$' "runtime stage is not debian:bookworm-slim"
# The slim ffmpeg (issue 13): its own stage, which reads deploy/ffmpeg/ only
# (a code change must not rebuild ffmpeg), configured from the one flags file.
need_line '^FROM debian:bookworm-slim AS ffmpeg$' "no ffmpeg stage (FROM debian:bookworm-slim AS ffmpeg)"
need_line '^COPY deploy/ffmpeg/build\.sh deploy/ffmpeg/configure-flags /ffmpeg/$' "the ffmpeg stage does not COPY build.sh and configure-flags"
need_line '^RUN .*/ffmpeg/build\.sh ' "the ffmpeg stage does not run build.sh"
ffstage="$(printf '%s\n' "$instructions" | sed -n '/^FROM debian:bookworm-slim AS ffmpeg$/,/^FROM /p' | sed '1d;$d')"
if grep -E '^(COPY|ADD) ' <<<"$ffstage" | grep -v '^COPY deploy/ffmpeg/' | grep -q .; then
	bad "Dockerfile: the ffmpeg stage copies more than deploy/ffmpeg/ (a code change would rebuild ffmpeg)"
	dockerfile_ok=0
fi
need_line '^COPY --from=ffmpeg /out/bin/ffmpeg /out/bin/ffprobe /usr/local/bin/$' "runtime does not take ffmpeg and ffprobe from the ffmpeg stage"
if printf '%s\n' "$instructions" | grep -E '^RUN .*apt-get install' | grep -Eq '[[:space:]](ffmpeg|curl)([[:space:]]|$)'; then
	bad "Dockerfile: an apt-get install of Debian's ffmpeg or curl (the image carries the slim ffmpeg and its own healthcheck)"
	dockerfile_ok=0
fi
# Plain instructions only: Debian 12's docker.io and docker-compose build
# without BuildKit, which RUN --mount needs.
if printf '%s\n' "$instructions" | grep -Eq '^RUN --mount'; then
	bad "Dockerfile: RUN --mount needs BuildKit (Debian 12's docker.io and docker-compose build without it)"
	dockerfile_ok=0
fi
for label in source version licenses; do
	need_line "^LABEL .*org\.opencontainers\.image\.$label=" "no OCI label org.opencontainers.image.$label"
done
need_line 'rm -rf /var/lib/apt/lists/\*' "apt lists are not removed"
need_line 'useradd .*--uid 10001 .*rtsp2mjpeg' "no user rtsp2mjpeg with uid 10001"
need_line '^USER (10001|rtsp2mjpeg)' "USER is not the non-root user"
need_line '^EXPOSE 8007$' "no EXPOSE 8007"
need_line '^ENV RTSP2MJPEG_LISTEN=:8007$' "no ENV RTSP2MJPEG_LISTEN=:8007"
need_line '^HEALTHCHECK .*"/usr/local/bin/rtsp2mjpeg", "healthcheck", "http://127\.0\.0\.1:8007/healthz"' "no HEALTHCHECK on /healthz (rtsp2mjpeg healthcheck)"
need_line '^ENTRYPOINT \["/usr/local/bin/rtsp2mjpeg"\]$' "ENTRYPOINT is not /usr/local/bin/rtsp2mjpeg"
if ! grep -qx '\.git' .dockerignore || ! grep -qx '\.env' .dockerignore; then
	bad ".dockerignore must list .git and .env"
	dockerfile_ok=0
fi
((dockerfile_ok)) && ok "Dockerfile and .dockerignore have the contract lines"

if command -v hadolint >/dev/null 2>&1; then
	ran=$((ran + 1))
	# DL3008: we want bookworm's current ffmpeg, not a pinned version.
	if hadolint --ignore DL3008 Dockerfile; then
		ok "hadolint"
	else
		bad "hadolint Dockerfile"
	fi
else
	skip "hadolint (not installed)"
fi

# ---- 3. the Dockerfile's build command, run locally ------------------------------
build_cmd="$(printf '%s\n' "$instructions" | sed -n 's/^RUN \(CGO_ENABLED=0 go build .*\)$/\1/p' | head -n 1)"
if [ -z "$build_cmd" ]; then
	bad "no RUN CGO_ENABLED=0 go build line in the Dockerfile"
elif ! command -v go >/dev/null 2>&1; then
	skip "local build (no go)"
else
	ran=$((ran + 1))
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	# Same command, with the output under $tmp instead of /out.
	local_cmd="${build_cmd//\/out\//$tmp/}"
	if VERSION=check-docker bash -c "$local_cmd"; then
		got="$("$tmp/rtsp2mjpeg" version 2>&1 || true)"
		if [ "$got" = "rtsp2mjpeg check-docker" ]; then
			ok "Dockerfile build command works here; version is stamped ($got)"
		else
			bad "built binary's 'version' printed '$got', want 'rtsp2mjpeg check-docker'"
		fi
		if command -v ldd >/dev/null 2>&1 && ldd "$tmp/rtsp2mjpeg" 2>&1 | grep -q '=>'; then
			bad "built binary is dynamically linked (CGO_ENABLED=0 should make it static)"
		fi
	else
		bad "the Dockerfile's build command failed here: $build_cmd"
	fi
fi

if ((fail)); then
	echo "check-docker: FAILED" >&2
	exit 1
fi
echo "check-docker: $ran check(s) passed"
