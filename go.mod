module github.com/rtsp2mjpeg/rtsp2mjpeg

go 1.26.8

require (
	github.com/aws/aws-sdk-go v1.38.20 // indirect
	github.com/bluenviron/gortsplib/v4 v4.12.3 // indirect
	github.com/bluenviron/mediacommon v1.14.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/gorilla/mux v1.8.1 // indirect
	github.com/jmespath/go-jmespath v0.4.0 // indirect
	github.com/pion/randutil v0.1.0 // indirect
	github.com/pion/rtcp v1.2.15 // indirect
	github.com/pion/rtp v1.8.11 // indirect
	github.com/pion/sdp/v3 v3.0.10 // indirect
	github.com/sirupsen/logrus v1.10.2 // indirect
	github.com/u2takey/ffmpeg-go v0.5.0 // indirect
	github.com/u2takey/go-utils v0.3.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/net v0.34.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
)
