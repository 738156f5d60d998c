#!/bin/bash
# Check that a built ffmpeg has, by its runtime names, every component the
# daemon and the demo use. Configure ignores misspelt component names
# (dump_extra for dump_extradata), so check the binary, not the flags.
#
#   FFMPEG=/path/ffmpeg deploy/ffmpeg/check-components.sh
set -u
FFMPEG=${FFMPEG:-ffmpeg}
fail=0
# kind (ffmpeg's -<kind> list) and the names it must hold
need() {
	local kind=$1
	shift
	local list
	case $kind in
	protocols) list=$("$FFMPEG" -hide_banner -protocols 2>/dev/null | awk 'NR>1{print $1}') ;;
	bsfs) list=$("$FFMPEG" -hide_banner -bsfs 2>/dev/null | tail -n +2) ;;
	filters) list=$("$FFMPEG" -hide_banner -filters 2>/dev/null | awk '/^ [.T][.S][.C] /{print $2}') ;;
	*) list=$("$FFMPEG" -hide_banner -"$kind" 2>/dev/null | awk 'f{print $2} /^ *-+/{f=1}' | tr ',' '\n') ;;
	esac
	for n in "$@"; do
		if ! grep -qx -- "$n" <<<"$list"; then
			echo "MISSING $kind: $n"
			fail=1
		fi
	done
}
need protocols file pipe tcp udp http https tls rtp
need demuxers rtsp sdp rtp mjpeg mpjpeg image2 image2pipe jpeg_pipe mov matroska mpegts h264 hevc v4l2 lavfi
need decoders h264 hevc mjpeg mpeg4 rawvideo wrapped_avframe
need encoders mjpeg libx264 wrapped_avframe
need muxers image2pipe null mpegts rtsp rtp
need bsfs h264_mp4toannexb hevc_mp4toannexb extract_extradata dump_extra
need filters fps scale split format null testsrc2 realtime
[ $fail = 0 ] && echo "all components present"
exit $fail
