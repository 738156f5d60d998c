# syntax=docker/dockerfile:1
#
# rtsp2mjpeg: RTSP cameras to MJPEG over HTTP.
#
#   docker build -t rtsp2mjpeg:latest --build-arg VERSION=$(git describe --always --dirty) .
#   docker run --rm -p 8007:8007 -e RTSP2MJPEG_URL='rtsp://user:pass@192.0.2.10:554/stream1' rtsp2mjpeg:latest
#   docker run --rm -p 8007:8007 rtsp2mjpeg:latest --demo      (no camera needed)
#
# Run it with --init (compose: init: true): the daemon reaps its ffmpeg
# children itself, an init process also reaps anything they leave behind.
#
# The first build takes about 6.5 minutes on 2 cores, most of it ffmpeg's
# (stage "ffmpeg"). That stage reads only deploy/ffmpeg/, so a change of the
# daemon's code rebuilds the Go binary only (about 75 s). To pick up a
# newer Debian security release of ffmpeg: docker build --no-cache (or
# docker compose build --no-cache).

# ---- build: the daemon ------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rtsp2mjpeg ./cmd/rtsp2mjpeg

# ---- ffmpeg: only what the daemon uses ---------------------------------------
# ffmpeg and ffprobe built from Debian bookworm's own patched source
# (bookworm-security's fixes included), configured with
# deploy/ffmpeg/configure-flags: RTSP/HTTP/file/webcam inputs, the H.264,
# HEVC, MJPEG and MPEG-4 decoders, the MJPEG encoder and the filters the
# daemon passes. Debian's ffmpeg package would bring 696 MB of desktop
# libraries (SDL, X11, Mesa, every codec).
FROM debian:bookworm-slim AS ffmpeg
RUN apt-get update \
	&& apt-get install -y --no-install-recommends build-essential pkg-config nasm dpkg-dev \
		libgnutls28-dev libx264-dev zlib1g-dev \
	&& rm -rf /var/lib/apt/lists/*
COPY deploy/ffmpeg/build.sh deploy/ffmpeg/configure-flags /ffmpeg/
# A plain RUN, no BuildKit cache mount: Debian 12's own docker.io (20.10)
# and docker-compose (1.29) build without BuildKit by default. The layer
# cache is what spares a code change the ffmpeg build.
RUN SKIP_DEPS=1 /ffmpeg/build.sh /tmp/ffmpeg-slim /out && rm -rf /tmp/ffmpeg-slim

# ---- runtime ------------------------------------------------------------------
FROM debian:bookworm-slim
# The slim ffmpeg's shared libraries: gnutls (rtsps://, https://) and zlib
# are in debian:bookworm-slim already, libx264 feeds the demo's camera.
# (apt's package caches go too: debian:bookworm-slim's docker-clean does
# that, a base without it would keep some 80 MB of them in this layer.)
RUN apt-get update \
	&& apt-get install -y --no-install-recommends libgnutls30 libx264-164 zlib1g \
	&& rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
RUN groupadd --system --gid 10001 rtsp2mjpeg \
	&& useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin rtsp2mjpeg
# CA certificates for https:// cameras, without the ca-certificates
# package (it pulls in openssl).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=ffmpeg /out/bin/ffmpeg /out/bin/ffprobe /usr/local/bin/
COPY --from=ffmpeg /out/share/doc/ffmpeg /usr/local/share/doc/ffmpeg
COPY --from=build /out/rtsp2mjpeg /usr/local/bin/rtsp2mjpeg
# VERSION changes with every commit: declared here, after the RUN steps,
# so that they stay cached.
ARG VERSION=dev
LABEL org.opencontainers.image.title="rtsp2mjpeg" \
	org.opencontainers.image.description="RTSP, HTTP and V4L2 cameras as HTTP MJPEG streams and JPEG snapshots" \
	org.opencontainers.image.source="https://github.com/rtsp2mjpeg/rtsp2mjpeg" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.licenses="MIT AND GPL-2.0-or-later"
USER 10001:10001
ENV RTSP2MJPEG_LISTEN=:8007
EXPOSE 8007
# Assumes the default port; if you change RTSP2MJPEG_LISTEN, change this too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
	CMD ["/usr/local/bin/rtsp2mjpeg", "healthcheck", "http://127.0.0.1:8007/healthz"]
ENTRYPOINT ["/usr/local/bin/rtsp2mjpeg"]
