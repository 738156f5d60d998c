// Package scripts holds the shell scripts of rtsp2mjpeg and the tests that run them.
package scripts
