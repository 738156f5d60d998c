//go:build !unix

package synthcam

import "net"

func shutdownListener(net.Listener) {}
