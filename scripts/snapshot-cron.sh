#!/usr/bin/env bash
# Saves one fresh JPEG of each rtsp2mjpeg camera into a folder per day, and
# deletes the folders of old days. Meant for cron; quiet when all went well.
#
#   snapshot-cron.sh [-u BASE_URL] [-d DIR] [-k KEEP_DAYS] [-t TIMEOUT]
#                    [-H "Header: value"]... [-v] [camera ...]
#
#   -u BASE_URL   the daemon (default http://127.0.0.1:8007)
#   -d DIR        where to save (default /var/lib/rtsp2mjpeg/snapshots);
#                 pictures go to DIR/YYYY-MM-DD/NAME-HHMMSS.jpg
#   -k KEEP_DAYS  delete the folders DIR/YYYY-MM-DD more than KEEP_DAYS days
#                 older than today (default 7; 0 keeps only today's). Nothing
#                 else in DIR is ever touched.
#   -t TIMEOUT    seconds allowed for each request (default 10)
#   -H HEADER     extra request header, repeatable, e.g.
#                 -H "Authorization: Bearer TOKEN". curl also reads headers
#                 from a file with -H @FILE, which keeps a secret out of the
#                 process list and the crontab.
#   -v            also print each picture saved
#   camera ...    the cameras to fetch (default: every camera the daemon lists
#                 at BASE_URL/api/cameras)
#
# Every camera is fetched (all at once), even when some fail. A picture is
# written to NAME-HHMMSS.jpg.tmp and renamed to .jpg only when the daemon
# answered 200 with a JPEG: no partial or stale file is ever left behind (the
# daemon answers 503 rather than send a stale frame). Exit status: 0 when every
# camera was saved, 1 otherwise, with one line per failed camera on stderr
# saying why (curl's error, or the HTTP status and the daemon's JSON "error"),
# 2 on a usage error.
#
# Crontab line (one picture a minute per camera, 14 days kept):
#   * * * * * /usr/local/bin/snapshot-cron.sh -d /srv/snapshots -k 14 >>/var/log/rtsp2mjpeg-cron.log 2>&1
#
# Install: install -m 0755 scripts/snapshot-cron.sh /usr/local/bin/snapshot-cron.sh
#
# Needs bash, curl and GNU coreutils (date -d); python3 parses the JSON when
# present, otherwise grep and sed do (SNAPSHOT_CRON_PYTHON names another
# interpreter; set it empty to force grep and sed).
set -euo pipefail

prog="snapshot-cron"
base="http://127.0.0.1:8007"
dir="/var/lib/rtsp2mjpeg/snapshots"
keep=7
timeout=10
verbose=0
headers=()
python="${SNAPSHOT_CRON_PYTHON-python3}"

usage() {
	cat >&2 <<EOF
usage: $prog [-u BASE_URL] [-d DIR] [-k KEEP_DAYS] [-t TIMEOUT] [-H "Header: value"]... [-v] [camera ...]
  -u BASE_URL   the daemon (default http://127.0.0.1:8007)
  -d DIR        save to DIR/YYYY-MM-DD/NAME-HHMMSS.jpg (default /var/lib/rtsp2mjpeg/snapshots)
  -k KEEP_DAYS  delete DIR/YYYY-MM-DD folders more than KEEP_DAYS days old (default 7)
  -t TIMEOUT    seconds per request (default 10)
  -H HEADER     extra request header, repeatable (or -H @FILE)
  -v            print each picture saved
  camera ...    default: every camera listed at BASE_URL/api/cameras
EOF
	exit 2
}

now="$(date '+%Y-%m-%dT%H:%M:%S%z')"
# log MESSAGE: one timestamped line on stderr (the cron log).
log() { printf '%s %s: %s\n' "$now" "$prog" "$*" >&2; }
die_usage() {
	log "$*"
	usage
}

while getopts ':u:d:k:t:H:vh' opt; do
	case "$opt" in
	u) base="$OPTARG" ;;
	d) dir="$OPTARG" ;;
	k) keep="$OPTARG" ;;
	t) timeout="$OPTARG" ;;
	H) headers+=(-H "$OPTARG") ;;
	v) verbose=1 ;;
	h) usage ;;
	:) die_usage "option -$OPTARG needs a value" ;;
	*) die_usage "unknown option -$OPTARG" ;;
	esac
done
shift $((OPTIND - 1))

base="${base%/}"
[[ "$base" =~ ^https?://[^[:space:]]+$ ]] || die_usage "invalid -u $base: want http://HOST:PORT or https://..."
[[ -n "$dir" ]] || die_usage "-d needs a directory"
[[ "$keep" =~ ^[0-9]+$ ]] || die_usage "invalid -k $keep: want a number of days"
[[ "$timeout" =~ ^[0-9]+(\.[0-9]+)?$ && ! "$timeout" =~ ^0+(\.0+)?$ ]] ||
	die_usage "invalid -t $timeout: want seconds, more than 0"
if [[ -n "$python" ]] && ! command -v "$python" >/dev/null 2>&1; then
	python=""
fi

day="${now%%T*}"
hms="${now#*T}"
hms="${hms:0:8}"
hms="${hms//:/}"

work="$(mktemp -d "${TMPDIR:-/tmp}/snapshot-cron.XXXXXX")"
pids=()  # running curl processes
tmps=()  # .tmp files of this run, removed on exit whatever happens
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		[[ -z "$pid" ]] || kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		[[ -z "$pid" ]] || wait "$pid" 2>/dev/null || true
	done
	if ((${#tmps[@]} > 0)); then
		rm -f -- "${tmps[@]}"
	fi
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM HUP

# printable FILE: the file's first 300 bytes on one line, control and
# non-ASCII bytes replaced (for a log line).
printable() {
	head -c 300 -- "$1" | LC_ALL=C tr -c '[:print:]' ' ' | sed 's/  */ /g;s/^ //;s/ $//'
}

# error_fields FILE: the "error" and "state" strings of the JSON object in
# FILE (the daemon's error answer), one a line; empty lines when absent.
error_fields() {
	if [[ -n "$python" ]]; then
		"$python" -c '
import json, sys
try:
    with open(sys.argv[1], "rb") as f:
        v = json.load(f)
except Exception:
    v = None
for k in ("error", "state"):
    s = v.get(k) if isinstance(v, dict) else None
    print("".join(c if c.isprintable() else " " for c in s) if isinstance(s, str) else "")
' "$1" 2>/dev/null || true
	else
		local k
		for k in error state; do
			head -c 4096 -- "$1" | tr '\n' ' ' |
				sed -n 's/.*"'"$k"'"[[:space:]]*:[[:space:]]*"\(\([^"\\]\|\\.\)*\)".*/\1/p' |
				sed 's/\\"/"/g;s/\\\\/\\/g' | LC_ALL=C tr -c '[:print:]' ' '
			echo
		done
	fi
}

# describe RC OUTFILE ERRFILE BODYFILE: why a request failed, on one line.
# RC is curl's exit status, OUTFILE holds "HTTP_CODE CONTENT_TYPE" (curl -w).
describe() {
	local rc="$1" out="$2" err="$3" body="$4" code ctype msg state
	if ((rc != 0)); then
		msg="$(printable "$err")"
		echo "${msg:-curl exit $rc}"
		return
	fi
	read -r code ctype <"$out" || true
	msg="HTTP ${code:-???}"
	if [[ -s "$body" ]]; then
		if [[ "$ctype" == application/json* ]]; then
			local e
			{
				IFS= read -r e || true
				IFS= read -r state || true
			} < <(error_fields "$body")
			if [[ -n "$e" ]]; then
				msg+=": $e"
				[[ -z "$state" ]] || msg+=" (state: $state)"
			else
				msg+=": $(printable "$body")"
			fi
		elif [[ "$ctype" == text/* ]]; then
			msg+=": $(printable "$body")"
		else
			msg+=" (${ctype:-no content type})"
		fi
	fi
	echo "$msg"
}

# fetch URL BODYFILE TAG: starts curl in the background, saving the body in
# BODYFILE, "HTTP_CODE CONTENT_TYPE" in $work/TAG.out and its errors in
# $work/TAG.err. Its pid is appended to pids.
fetch() {
	curl -sS --max-time "$timeout" "${headers[@]}" \
		-w '%{http_code} %{content_type}\n' -o "$2" "$1" \
		>"$work/$3.out" 2>"$work/$3.err" &
	pids+=("$!")
}

# --- the cameras --------------------------------------------------------------
failed=()
declare -A seen=()
cams=()
add_camera() {
	if [[ -z "${seen[$1]+x}" ]]; then
		seen[$1]=1
		cams+=("$1")
	fi
}
if (($# > 0)); then
	for name in "$@"; do
		add_camera "$name"
	done
else
	fetch "$base/api/cameras" "$work/list.json" list
	rc=0
	wait "${pids[0]}" || rc=$?
	pids=()
	code=""
	read -r code _ <"$work/list.out" || true
	if ((rc != 0)) || [[ "$code" != 200 ]]; then
		log "cannot list the cameras at $base/api/cameras: $(describe "$rc" "$work/list.out" "$work/list.err" "$work/list.json")"
		exit 1
	fi
	if [[ -n "$python" ]]; then
		# One name per line, JSON-escaped: a name with a newline or a quote
		# stays one (invalid) line.
		if ! names="$("$python" -c '
import json, sys
v = json.load(sys.stdin)
if not isinstance(v, list):
    sys.exit("not a JSON array")
for c in v:
    print(json.dumps(c["name"])[1:-1])
' <"$work/list.json" 2>"$work/list.err")"; then
			log "cannot list the cameras: unexpected answer from $base/api/cameras: $(printable "$work/list.err")"
			exit 1
		fi
	else
		names="$(tr '\n' ' ' <"$work/list.json" |
			grep -o '"name"[[:space:]]*:[[:space:]]*"\([^"\\]\|\\.\)*"' |
			sed 's/^"name"[[:space:]]*:[[:space:]]*"//;s/"$//' || true)"
	fi
	while IFS= read -r name; do
		[[ -z "$name" ]] || add_camera "$name"
	done <<<"$names"
	if ((${#cams[@]} == 0)); then
		log "no camera listed at $base/api/cameras"
		exit 1
	fi
fi

# --- fetch them all at once ----------------------------------------------------
dest="$dir/$day"
if ! mkdir -p -- "$dest"; then
	log "cannot create $dest"
	exit 1
fi
valid=()
for name in "${cams[@]}"; do
	# The name becomes part of a path and a URL: nothing but [a-z0-9_-].
	if ! [[ "$name" =~ ^[a-z0-9_-]+$ ]]; then
		shown="\"$(printf '%s' "$name" | LC_ALL=C tr -c '[:print:]' '?')\""
		log "$shown: invalid camera name, want [a-z0-9_-]+; skipped"
		failed+=("$shown")
		continue
	fi
	tmps+=("$dest/$name-$hms.jpg.tmp")
	fetch "$base/cameras/$name/snapshot" "$dest/$name-$hms.jpg.tmp" "cam-$name"
	valid+=("$name")
done

for i in "${!valid[@]}"; do
	name="${valid[$i]}"
	tmp="$dest/$name-$hms.jpg.tmp"
	rc=0
	wait "${pids[$i]}" || rc=$?
	pids[i]="" # reaped: never signal that pid again
	code=""
	ctype=""
	read -r code ctype <"$work/cam-$name.out" || true
	# A JPEG starts with FF D8.
	if ((rc == 0)) && [[ "$code" == 200 && "$ctype" == image/jpeg* ]] &&
		[[ "$(head -c 2 -- "$tmp" 2>/dev/null | od -An -tx1 | tr -d ' \n')" == ffd8 ]]; then
		mv -f -- "$tmp" "$dest/$name-$hms.jpg"
		((verbose == 0)) || log "$name: saved $dest/$name-$hms.jpg"
		continue
	fi
	if ((rc == 0)) && [[ "$code" == 200 ]]; then
		why="HTTP 200 but not a JPEG (${ctype:-no content type})"
	else
		why="$(describe "$rc" "$work/cam-$name.out" "$work/cam-$name.err" "$tmp")"
	fi
	rm -f -- "$tmp"
	log "$name: $why"
	failed+=("$name")
done
pids=()

# --- delete old days -------------------------------------------------------------
cleanup_failed=0
if cutoff="$(date -d "$day -$keep days" '+%Y-%m-%d' 2>/dev/null)"; then
	shopt -s nullglob
	for old in "$dir"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]; do
		# Only real folders (not symlinks) named YYYY-MM-DD, before the cutoff.
		if [[ -d "$old" && ! -L "$old" && "${old##*/}" < "$cutoff" ]]; then
			if ! rm -rf -- "$old"; then
				log "could not delete $old"
				cleanup_failed=1
			fi
		fi
	done
	shopt -u nullglob
else
	log "date -d is not GNU date: old folders are not deleted"
	cleanup_failed=1
fi

if ((${#failed[@]} > 0)); then
	log "${#failed[@]} of ${#cams[@]} cameras failed: ${failed[*]}"
	exit 1
fi
exit "$cleanup_failed"
