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

# ---- build ------------------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rtsp2mjpeg ./cmd/rtsp2mjpeg

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
# ffmpeg does the RTSP and the MJPEG encoding; curl is for the healthcheck.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ffmpeg ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 rtsp2mjpeg \
	&& useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin rtsp2mjpeg
COPY --from=build /out/rtsp2mjpeg /usr/local/bin/rtsp2mjpeg
USER 10001:10001
ENV RTSP2MJPEG_LISTEN=:8007
EXPOSE 8007
# Assumes the default port; if you change RTSP2MJPEG_LISTEN, change this too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
	CMD curl -fsS http://127.0.0.1:8007/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/rtsp2mjpeg"]
