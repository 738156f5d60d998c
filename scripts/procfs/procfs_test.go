package procfs

import (
	"os"
	"os/exec"
	"testing"
)

// A child of this test shows in Children with its name and this process as
// parent, is alive while it runs and a zombie once it exits, until waited.
func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	find := func() (Stat, bool) {
		for _, s := range Children(os.Getpid()) {
			if s.PID == pid {
				return s, true
			}
		}
		return Stat{}, false
	}
	s, ok := find()
	if !ok || s.Comm != "sleep" || s.PPID != os.Getpid() || s.Zombie() {
		t.Fatalf("child %d: %+v (found %v)", pid, s, ok)
	}
	if !Alive(pid) {
		t.Fatal("a running child is not Alive")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not waited for yet: a zombie, still a child, no longer alive.
	for i := 0; i < 1000; i++ {
		if s, ok = find(); ok && s.Zombie() {
			break
		}
		if i == 999 {
			t.Fatalf("the killed child never became a zombie: %+v", s)
		}
	}
	if Alive(pid) {
		t.Error("a zombie is Alive")
	}
	_ = cmd.Wait()
	if _, ok := find(); ok {
		t.Error("a waited-for child is still listed")
	}
}

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if rss := Status(pid, "VmRSS"); rss <= 0 {
		t.Errorf("VmRSS = %d", rss)
	}
	if n := Status(pid, "NoSuchField"); n != -1 {
		t.Errorf("a missing field = %d, want -1", n)
	}
	if n := FDs(pid); n < 3 {
		t.Errorf("FDs = %d, want at least stdin, stdout, stderr", n)
	}
	if cpu, ok := ThreadsCPU(pid); !ok || cpu <= 0 {
		t.Errorf("ThreadsCPU = %v, %v", cpu, ok)
	}
	if s, err := ReadStat(pid); err != nil || s.PID != pid || s.State == 0 {
		t.Errorf("ReadStat(self) = %+v, %v", s, err)
	}
}
