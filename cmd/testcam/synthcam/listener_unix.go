//go:build unix

package synthcam

import (
	"net"
	"syscall"
)

// shutdownListener stops a TCP listener from accepting at once. Closing the
// fd is not enough: a child being forked elsewhere in the process holds a
// copy of it until its exec, and meanwhile the socket keeps completing
// handshakes that are then reset rather than refused. shutdown(2) acts on the
// socket itself, whatever the fd copies.
func shutdownListener(ln net.Listener) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR)
	})
}
