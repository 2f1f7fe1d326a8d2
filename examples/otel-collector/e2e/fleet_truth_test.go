//go:build e2e && fleet

package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// fleetTruth is what the fleet really did: every transition of every
// node, with its time, as the children report it over their feeds. It
// answers which phase a node was in at any time, and which phases it went
// through in a window.
type fleetTruth struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	nodes   [][]fleetRecord // per node, in Seq (and time) order
	up      int             // nodes the children said are running
	memory  []fleetMemory   // each child's, as it stopped
	conns   []net.Conn
	closing bool
	ended   []string                           // feeds that ended before close: a child died
	hook    func(prev string, now fleetRecord) // while set, called with every transition
}

func newFleetTruth(n int) (*fleetTruth, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tr := &fleetTruth{ln: ln, nodes: make([][]fleetRecord, n)}
	tr.wg.Go(tr.accept)
	return tr, nil
}

func (tr *fleetTruth) addr() string { return tr.ln.Addr().String() }

func (tr *fleetTruth) accept() {
	for {
		c, err := tr.ln.Accept()
		if err != nil {
			return
		}
		tr.mu.Lock()
		tr.conns = append(tr.conns, c)
		tr.mu.Unlock()
		tr.wg.Go(func() { tr.read(c) })
	}
}

func (tr *fleetTruth) read(c net.Conn) {
	dec := json.NewDecoder(c)
	for {
		var r fleetRecord
		err := dec.Decode(&r)
		if err != nil {
			tr.mu.Lock()
			if !tr.closing {
				tr.ended = append(tr.ended, fmt.Sprintf("feed from %s ended: %v", c.RemoteAddr(), err))
			}
			tr.mu.Unlock()
			return
		}
		tr.mu.Lock()
		if r.Up > 0 {
			tr.up += r.Up
			tr.mu.Unlock()
			continue
		}
		if r.Memory != nil {
			tr.memory = append(tr.memory, *r.Memory)
			tr.mu.Unlock()
			continue
		}
		if r.Node < 0 || r.Node >= len(tr.nodes) {
			tr.ended = append(tr.ended, fmt.Sprintf("record of an unknown node %d", r.Node))
			tr.mu.Unlock()
			continue
		}
		prev := ""
		if h := tr.nodes[r.Node]; len(h) > 0 {
			prev = h[len(h)-1].Phase
		}
		tr.nodes[r.Node] = append(tr.nodes[r.Node], r)
		hook := tr.hook
		tr.mu.Unlock()
		if hook != nil && r.Seq > 0 {
			hook(prev, r)
		}
	}
}

// stopping says the children are being stopped: their feeds may end.
func (tr *fleetTruth) stopping() {
	tr.mu.Lock()
	tr.closing = true
	tr.mu.Unlock()
}

// close stops listening and closes every feed, which tells the children
// still running to stop.
func (tr *fleetTruth) close() {
	tr.mu.Lock()
	tr.closing = true
	conns := tr.conns
	tr.mu.Unlock()
	tr.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	tr.wg.Wait()
}

func (tr *fleetTruth) running() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.up
}

// memoryPerNode is the children's Go heap in use, stacks and goroutines,
// per node, as they stopped; n is how many nodes reported.
func (tr *fleetTruth) memoryPerNode() (heap, stack, goroutines float64, n int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var h, s uint64
	var g int
	for _, m := range tr.memory {
		h, s, g, n = h+m.HeapInuse, s+m.StackInuse, g+m.Goroutines, n+m.Nodes
	}
	if n == 0 {
		return 0, 0, 0, 0
	}
	return float64(h) / float64(n), float64(s) / float64(n), float64(g) / float64(n), n
}

// problems are the feeds that ended early, each a child that died.
func (tr *fleetTruth) problems() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.ended)
}

func (tr *fleetTruth) setHook(h func(prev string, now fleetRecord)) {
	tr.mu.Lock()
	tr.hook = h
	tr.mu.Unlock()
}

// phaseAt is node i's phase at time at, "" before it existed.
func phaseAt(h []fleetRecord, at time.Time) string {
	k := sort.Search(len(h), func(j int) bool { return h[j].At > at.UnixNano() })
	if k == 0 {
		return ""
	}
	return h[k-1].Phase
}

// phasesDuring are the phases node history h was in at some time in
// [from, to].
func phasesDuring(h []fleetRecord, from, to time.Time) map[string]bool {
	out := map[string]bool{}
	if p := phaseAt(h, from); p != "" {
		out[p] = true
	}
	for _, r := range h {
		if r.At > from.UnixNano() && r.At <= to.UnixNano() {
			out[r.Phase] = true
		}
	}
	return out
}

// leftAt is when the node of r left r's phase (the first later record in
// another phase), or the zero time if it had not yet.
func (tr *fleetTruth) leftAt(r fleetRecord) time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, x := range tr.nodes[r.Node] {
		if x.Seq > r.Seq && x.Phase != r.Phase {
			return x.at()
		}
	}
	return time.Time{}
}

// count counts the transitions (Seq ≥ 1) in [from, to), and among them the
// ones that change the phase label (Joining{0} → Joining{1} does not).
func (tr *fleetTruth) count(from, to time.Time) (all, changes int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, h := range tr.nodes {
		for j, r := range h {
			if r.Seq == 0 || r.At < from.UnixNano() || r.At >= to.UnixNano() {
				continue
			}
			all++
			if j > 0 && h[j-1].Phase != r.Phase {
				changes++
			}
		}
	}
	return all, changes
}

// fleetSampler picks about target items at random, each with the same
// chance, out of a stream whose length is known only roughly in advance:
// the chance of the next item is what is left of the target over the items
// still expected, at the rate seen so far (blended with a prior rate for
// the first seconds).
type fleetSampler struct {
	mu             sync.Mutex
	target, taken  int
	seen           int
	from, to       time.Time
	prior          float64 // items per second expected before any is seen
	rng            *rand.Rand
	priorWeightSec float64
}

func newFleetSampler(target int, from, to time.Time, prior float64, seed uint64) *fleetSampler {
	return &fleetSampler{target: target, from: from, to: to, prior: prior, priorWeightSec: 10, rng: rand.New(rand.NewPCG(seed, 0x5a))}
}

func (s *fleetSampler) take(at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.Before(s.from) || !at.Before(s.to) || s.taken >= s.target {
		return false
	}
	s.seen++
	elapsed := at.Sub(s.from).Seconds()
	rate := (float64(s.seen) + s.prior*s.priorWeightSec) / (elapsed + s.priorWeightSec)
	expect := rate*s.to.Sub(at).Seconds() + 1
	if s.rng.Float64() < float64(s.target-s.taken)/expect {
		s.taken++
		return true
	}
	return false
}

// fleetCheck is one exactness check: what Prometheus said at one instant.
type fleetCheck struct {
	at     time.Time
	counts map[string]int      // count by (state) (cluster_lifecycle_state{job="fleet-node"} == 1)
	shown  map[string][]string // instance → the states at 1, from the same instant
	err    error
}

// fleetVerdict is a check judged against the ground truth.
type fleetVerdict struct {
	exact    bool     // every per-phase count equals the truth at the instant
	lagging  int      // nodes shown in another phase than the one they were in at the instant
	maxGap   int      // the largest difference between a phase's count and the truth at the instant
	gapPhase string   // the phase of maxGap
	torn     int      // nodes shown in two phases at once, or in none
	beyond   int      // nodes shown in a phase they had not been in within the window
	problems []string // what the freshness window does not excuse
}

// judge compares a check with the truth: each node must be shown in
// exactly one phase, one it was in at some time in [at − window, at], and
// each phase's count must lie between the nodes that were in that phase
// throughout the window and those that were in it at any time of it.
func (tr *fleetTruth) judge(c fleetCheck, window time.Duration) fleetVerdict {
	var v fleetVerdict
	if c.err != nil {
		v.problems = append(v.problems, c.err.Error())
		return v
	}
	tr.mu.Lock()
	n := len(tr.nodes)
	hist := make([][]fleetRecord, n)
	copy(hist, tr.nodes)
	tr.mu.Unlock()

	truthNow := map[string]int{}
	lo, hi := map[string]int{}, map[string]int{}
	total := 0
	for i := range n {
		h := hist[i]
		now := phaseAt(h, c.at)
		truthNow[now]++
		during := phasesDuring(h, c.at.Add(-window), c.at)
		for p := range during {
			hi[p]++
		}
		if len(during) == 1 {
			lo[now]++
		}
		inst := fleetInstance(i)
		shown := c.shown[inst]
		switch {
		case len(shown) != 1:
			v.torn++
			v.problems = append(v.problems, fmt.Sprintf("torn: %s shown in %d phases %v (truth: %s, within the window %v)", inst, len(shown), shown, now, keys(during)))
		case !during[shown[0]]:
			v.beyond++
			v.problems = append(v.problems, fmt.Sprintf("%s shown %s, but was only in %v within %v before", inst, shown[0], keys(during), window))
		case shown[0] != now:
			v.lagging++
		}
	}
	v.exact = true
	for _, p := range union(truthNow, c.counts) {
		got := c.counts[p]
		total += got
		if got != truthNow[p] {
			v.exact = false
		}
		if gap := abs(got - truthNow[p]); gap > v.maxGap {
			v.maxGap, v.gapPhase = gap, p
		}
		if got < lo[p] || got > hi[p] {
			v.problems = append(v.problems, fmt.Sprintf("count of %s is %d; the window allows %d…%d (truth at the instant %d)", p, got, lo[p], hi[p], truthNow[p]))
		}
	}
	if total != n {
		v.problems = append(v.problems, fmt.Sprintf("the per-phase counts add up to %d nodes, not %d", total, n))
	}
	return v
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func union(a, b map[string]int) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return keys(set)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// summary of the problems, for a failure message: the first few.
func firstOf(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, "; ")
	}
	return strings.Join(list[:n], "; ") + fmt.Sprintf("; … (%d in all)", len(list))
}
