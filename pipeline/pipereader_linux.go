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
	f  *os.File
	rc syscall.RawConn
}

// newPipeReader wraps the read end of a pipe; it falls back to the file's
// own Read when the file offers no raw access.
func newPipeReader(f *os.File) io.Reader {
	rc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return &pipeReader{f: f, rc: rc}
}

func (r *pipeReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			r1, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			if e == syscall.EINTR {
				continue
			}
			n, errno = int(r1), e
			return e != syscall.EAGAIN // false: wait for data, then call again
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &os.PathError{Op: "read", Path: r.f.Name(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
