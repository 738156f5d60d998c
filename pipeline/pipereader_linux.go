package pipeline

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// pipeReader reads a non-blocking pipe (the read end from os.Pipe) with
// the netpoller waiting for data and a raw read(2) taking it.
//
// A read of a non-blocking pipe never blocks, so it need not go through
// the runtime's syscall bookkeeping. That bookkeeping wakes the runtime's
// monitor thread on every read of an otherwise idle process, which costs
// three context switches more per frame: a camera nobody watches cost
// about 170 µs of CPU per 50 KB frame that way and about 115 µs this way
// (scripts/bench.sh, docs/PERFORMANCE.md).
type pipeReader struct {
	f      *os.File
	rc     syscall.RawConn
	readFn func(fd uintptr) bool // r.readFD, bound once: no allocation per Read
	// The current Read's buffer and result, for readFD. A pipeReader is
	// read by one goroutine at a time, as any io.Reader.
	p     []byte
	n     int
	errno syscall.Errno
}

// newPipeReader wraps the read end of a pipe; it falls back to the file's
// own Read when the file offers no raw access.
func newPipeReader(f *os.File) io.Reader {
	rc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	r := &pipeReader{f: f, rc: rc}
	r.readFn = r.readFD
	return r
}

// readFD makes one read(2) of r.p; false asks the netpoller to wait for
// data and call it again.
func (r *pipeReader) readFD(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		if e == syscall.EINTR {
			continue
		}
		r.n, r.errno = int(n), e
		return e != syscall.EAGAIN
	}
}

func (r *pipeReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.errno = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.p = nil
	switch {
	case err != nil:
		return 0, err
	case r.errno != 0:
		return 0, &os.PathError{Op: "read", Path: r.f.Name(), Err: r.errno}
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}
