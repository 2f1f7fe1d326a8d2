//go:build e2e && fleet

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// countingProxy forwards TCP connections from 127.0.0.1 to target and
// counts the bytes each way: the nodes' OTLP exports as they are on the
// wire (gRPC over HTTP/2, protobuf, no TLS, no compression).
type countingProxy struct {
	ln     net.Listener
	target string
	sent   atomic.Int64 // towards target
	back   atomic.Int64 // from target
	conns  atomic.Int64 // connections accepted

	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startProxy(target string) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, target: target, open: map[net.Conn]struct{}{}}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
	return p, nil
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

func (p *countingProxy) serve(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		d.Close()
		return
	}
	p.open[c], p.open[d] = struct{}{}, struct{}{}
	p.mu.Unlock()
	p.conns.Add(1)
	done := make(chan struct{})
	go func() { pump(d, c, &p.sent); close(done) }()
	pump(c, d, &p.back)
	// Either side gone: close both, which ends the other pump.
	c.Close()
	d.Close()
	<-done
	p.mu.Lock()
	delete(p.open, c)
	delete(p.open, d)
	p.mu.Unlock()
}

// pump copies src to dst, counting. Small buffers: with 1,000 nodes the
// proxy holds 6,000 of them.
func pump(dst, src net.Conn, n *atomic.Int64) {
	buf := make([]byte, 4<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n.Add(int64(k))
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *countingProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// procStat is what /proc says about one process.
type procStat struct {
	cpu      time.Duration // user + system
	rss, hwm int64         // bytes: resident now, and at its highest
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

func readProc(pid int) (procStat, error) {
	var ps procStat
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// The command name may hold spaces: the fields start after its ')'.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return ps, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	ps.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			ps.rss = kb << 10
		case "VmHWM":
			ps.hwm = kb << 10
		}
	}
	return ps, nil
}

// loadavg is /proc/loadavg's 1, 5 and 15 minute figures.
func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal is MemTotal from /proc/meminfo, in bytes.
func memTotal() int64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// raiseNoFile lifts this process's soft limit on open files to the hard
// one (Go does so at start-up already; the children, the collector and
// Prometheus are Go programs too) and returns both. The proxies hold two
// descriptors per node connection: 6,000 for 1,000 nodes.
func raiseNoFile() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, lim.Max, err
		}
	}
	return lim.Cur, lim.Max, nil
}

// openFiles counts the open descriptors of process pid.
func openFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// tsdbHeadSeries is Prometheus's own count of the series in its head
// block (/api/v1/status/tsdb, headStats.numSeries): every series of the
// last two hours or so, stale ones included.
func tsdbHeadSeries(base string) (int, error) {
	res, err := http.Get(base + "/api/v1/status/tsdb")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var body struct {
		Data struct {
			HeadStats struct {
				NumSeries int `json:"numSeries"`
			} `json:"headStats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, err
	}
	return body.Data.HeadStats.NumSeries, nil
}

// machine describes where the figures were measured.
func machine() string {
	return fmt.Sprintf("%d cores (`nproc`), %s, %.0f GiB, %s %s/%s", runtime.NumCPU(), cpuModel(),
		float64(memTotal())/(1<<30), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// fileSize is the size of the file at path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logLevels counts the warning and error lines that the collector's log
// (zap's console encoding: time, tab, level, tab, …) holds from byte
// offset from on, and returns the last error line.
func logLevels(path string, from int64) (warn, errs int, last string) {
	raw, err := os.ReadFile(path)
	if err != nil || from > int64(len(raw)) {
		return 0, 0, fmt.Sprintf("(reading %s: %v)", path, err)
	}
	for _, line := range strings.Split(string(raw[from:]), "\n") {
		switch {
		case strings.Contains(line, "\twarn\t"):
			warn++
		case strings.Contains(line, "\terror\t"):
			errs++
			last = line
		}
	}
	return warn, errs, last
}
