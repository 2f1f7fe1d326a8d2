//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procs starts programs, logs each to its own file in dir, and stops them
// all by PID: at the end of the test, on failure, and on SIGINT/SIGTERM.
// Children also get SIGKILL if the test process dies (Pdeathsig).
type procs struct {
	dir  string
	mu   sync.Mutex
	list []*exec.Cmd
	once sync.Once
}

func newProcs(t *testing.T, dir string) *procs {
	p := &procs{dir: dir}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "e2e: %v: stopping everything; logs in %s\n", s, dir)
			p.stopAll()
			os.Exit(2)
		case <-done:
		}
	}()
	t.Cleanup(func() {
		signal.Stop(sig)
		close(done)
		p.stopAll()
	})
	return p
}

// start runs bin with args and env added to this process's environment.
func (p *procs) start(t *testing.T, name, bin string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(p.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p.mu.Lock()
	p.list = append(p.list, cmd)
	p.mu.Unlock()
	t.Logf("started %s (pid %d): %s %s", name, cmd.Process.Pid, filepath.Base(bin), strings.Join(args, " "))
	go func() { _ = cmd.Wait(); logf.Close() }()
	return cmd
}

// stop asks one process to end (SIGTERM), then kills it after grace.
func stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if cmd.ProcessState != nil || !alive(cmd.Process.Pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

func alive(pid int) bool {
	// A zombie still answers signal 0; its /proc stat says Z.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// kill ends one process as a crash would (SIGKILL: no shutdown, no flush)
// and waits until it is gone.
func (p *procs) kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for alive(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d outlived SIGKILL", cmd.Process.Pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("killed pid %d", cmd.Process.Pid)
}

// stopAll stops every process, the last started first.
func (p *procs) stopAll() {
	p.once.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i := len(p.list) - 1; i >= 0; i-- {
			stop(p.list[i], 10*time.Second)
		}
	})
}

// freePorts reserves n loopback ports and releases them for the programs.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// pollEvery is how often the e2e polls the programs it runs.
const pollEvery = 250 * time.Millisecond

// tcpOpen says whether addr accepts a TCP connection.
func tcpOpen(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func httpOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errors.New(res.Status)
	}
	return nil
}
