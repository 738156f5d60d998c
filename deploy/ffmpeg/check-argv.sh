#!/bin/bash
# Run the daemon's own ffmpeg/ffprobe argv (printed by ./printargv) against
# a built ffmpeg, a few seconds each, and report which fail and why.
#
#   FFMPEG=/path/ffmpeg FFPROBE=/path/ffprobe deploy/ffmpeg/check-argv.sh ARGV_FILE
#
# ARGV_FILE: the output of `go run ./deploy/ffmpeg/printargv ...`; the
# sources it names must be up (the synthetic camera for rtsp://, a file
# for file://). Inputs of the stdin-fed argv come from earlier runs: the
# decoder reads the MPEG-TS the matching standby run wrote (pipe:4), the
# transcoder the JPEGs of rtsp-auto/build (pipe:1).
set -u
FFMPEG=${FFMPEG:-ffmpeg}
FFPROBE=${FFPROBE:-ffprobe}
SECS=${SECS:-4}
out=${OUT:-$(mktemp -d)}
fail=0
# Messages of a build that lacks something the argv needs (not those of a
# short probe, a camera refusing UDP or a missing device: compare with a
# run of Debian's ffmpeg, REF=its OUT directory, for those).
missing='Unrecognized option|Option [^ ]+ not found|Unknown encoder|Unknown decoder|Unknown input format|Unknown output format|Requested output format|No such filter|Protocol not found|Bitstream filter not found|Decoder [^ ]+ not found|Encoder [^ ]+ not found|Could not find tag for codec|Filter not found'
REF=${REF:-}
while IFS=$'\t' read -r name prog argline; do
	read -r -a argv <<<"$argline"
	d="$out/${name//\//_}"
	bin=$FFMPEG
	[ "$prog" = ffprobe ] && bin=$FFPROBE
	stdin=/dev/null
	case $name in
	*/decoder) stdin="$out/${name%/decoder}_standby.fd4" ;;
	transcode-*) stdin="$out/rtsp-auto_build.fd1" ;;
	esac
	[ -e "$stdin" ] || stdin=/dev/null
	timeout -s INT "$SECS" "$bin" "${argv[@]}" <"$stdin" >"$d.fd1" 2>"$d.err" 3>"$d.fd3" 4>"$d.fd4"
	rc=$?
	sz1=$(stat -c %s "$d.fd1")
	sz3=$(stat -c %s "$d.fd3")
	sz4=$(stat -c %s "$d.fd4")
	verdict=ok
	if grep -Eq "$missing" "$d.err"; then
		verdict=MISSING
	elif [ "$sz1" = 0 ]; then
		verdict="NO OUTPUT"
	fi
	echo "$verdict" >"$d.verdict"
	if [ -n "$REF" ] && [ -e "$REF/${name//\//_}.verdict" ]; then
		ref=$(cat "$REF/${name//\//_}.verdict")
		if [ "$ref" = "$verdict" ]; then
			verdict="$verdict (=ref)"
		else
			verdict="$verdict (ref: $ref)"
			fail=1
		fi
	elif [ "$verdict" != ok ]; then
		fail=1
	fi
	printf '%-22s %-30s rc=%-3s fd1=%-8s fd3=%-8s fd4=%-8s %s\n' "$verdict" "$name" "$rc" "$sz1" "$sz3" "$sz4" \
		"$(tr '\n' '|' <"$d.err" | cut -c1-200)"
done <"$1"
echo "outputs in $out"
exit $fail
