package main

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// rxConn reads a TCP connection with recvmsg and keeps the kernel's receive
// timestamp of the data last read (SO_TIMESTAMPNS: when the bytes reached
// the viewer's socket), so that the delay of a part is measured without the
// viewer's own scheduling, which on 2 shared CPUs weighs as much as what is
// measured.
type rxConn struct {
	net.Conn
	rc     syscall.RawConn
	oob    []byte
	lastRx time.Time // of the last read; zero when the kernel gave none
}

// newRxConn enables receive timestamps on c; ok is false when c is not a
// TCP connection or the kernel refuses.
func newRxConn(c net.Conn) (*rxConn, bool) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return nil, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil, false
	}
	return &rxConn{Conn: c, rc: rc, oob: make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{}))))}, true
}

func (c *rxConn) Read(p []byte) (int, error) {
	var n, oobn int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, c.oob, 0)
		return rerr != syscall.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	c.lastRx = time.Time{}
	if msgs, err := syscall.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS &&
				len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
				ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
				c.lastRx = time.Unix(ts.Sec, ts.Nsec)
			}
		}
	}
	return n, nil
}
