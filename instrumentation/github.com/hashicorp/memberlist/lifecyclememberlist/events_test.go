package lifecyclememberlist_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// recording is a user's EventDelegate: it keeps every event as "join n0".
type recording struct {
	mu  sync.Mutex
	got []string
}

func (r *recording) add(kind string, n *memberlist.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, kind+" "+n.Name)
}

func (r *recording) NotifyJoin(n *memberlist.Node)   { r.add("join", n) }
func (r *recording) NotifyLeave(n *memberlist.Node)  { r.add("leave", n) }
func (r *recording) NotifyUpdate(n *memberlist.Node) { r.add("update", n) }

func (r *recording) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitEvents waits, within the deadline, until r has want events.
func (r *recording) waitEvents(t *testing.T, want int) []string {
	t.Helper()
	testsupport.Poll(t, "the user's delegate's events", within, 5*time.Millisecond, func() error {
		if got := r.events(); len(got) < want {
			return fmt.Errorf("got %v, want %d events", got, want)
		}
		return nil
	})
	return r.events()
}

// metaDelegate gives memberlist the node's metadata, which the test
// changes to make memberlist send an update.
type metaDelegate struct{ meta atomic.Value }

func (d *metaDelegate) NodeMeta(int) []byte {
	s, _ := d.meta.Load().(string)
	return []byte(s)
}
func (*metaDelegate) NotifyMsg([]byte)                {}
func (*metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (*metaDelegate) LocalState(bool) []byte          { return nil }
func (*metaDelegate) MergeRemoteState([]byte, bool)   {}

func TestUsersEventDelegateGetsEveryEvent(t *testing.T) {
	user := &recording{}
	n0 := start(t, "n0", setup{conf: func(c *memberlist.Config) { c.Events = user }})
	if err := n0.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	meta := &metaDelegate{}
	meta.meta.Store("v1")
	n1 := start(t, "n1", setup{conf: func(c *memberlist.Config) { c.Delegate = meta }})
	n2 := start(t, "n2", setup{})
	for i, n := range []*node{n1, n2} {
		if err := n.obs.Join(t.Context(), []string{n0.addr()}); err != nil {
			t.Fatal(err)
		}
		user.waitEvents(t, 2+i) // n0's own join, then one per joiner, in order
	}
	meta.meta.Store("v2")
	if err := n1.obs.Memberlist().UpdateNode(time.Second); err != nil {
		t.Fatal(err)
	}
	user.waitEvents(t, 4)
	if err := n2.obs.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	got := user.waitEvents(t, 5)

	want := []string{"join n0", "join n1", "join n2", "update n1", "leave n2"}
	if !slices.Equal(got, want) {
		t.Fatalf("the user's delegate got %v, want %v", got, want)
	}
	st := n0.obs.Stats()
	if st.Joins != 3 || st.Leaves != 1 || st.Updates != 1 {
		t.Errorf("Stats %+v, want 3 joins, 1 leave and 1 update, as the user's delegate got", st)
	}
	waitFor(t, n0, otellifecycle.ReadyState(2))
	testsupport.WantStateGauge(t, n0.reader, otellifecycle.Ready)
}

func TestStuckTrackerNeverBlocksMemberlist(t *testing.T) {
	// A transition policy runs inside the tracker's critical section: this
	// one holds every Ready{n>1} until released, as a stuck log handler would.
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	stuck := otellifecycle.WithTransitionPolicy(func(_, to otellifecycle.State) error {
		if to.Phase == otellifecycle.Ready && to.Nodes > 1 {
			<-release
		}
		return nil
	})
	user := &recording{}
	n0 := start(t, "n0", setup{tracker: []otellifecycle.Option{stuck}, conf: func(c *memberlist.Config) { c.Events = user }})
	t.Cleanup(unblock) // before n0 shuts down and its tracker closes
	if err := n0.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	seed := n0.addr()

	// Three nodes join n0 while its tracker is stuck in Ready{2}: memberlist
	// goes on, and so does the user's delegate. (Were memberlist blocked,
	// the joins would time out and n0's own calls would never return: each
	// is bounded.)
	for i := 1; i <= 3; i++ {
		n := start(t, fmt.Sprintf("n%d", i), setup{opts: []lifecyclememberlist.Option{
			lifecyclememberlist.WithJoinBackoff(0, 100*time.Millisecond, time.Second)}})
		ctx, cancel := context.WithTimeout(t.Context(), within)
		err := n.obs.Join(ctx, []string{seed})
		cancel()
		if err != nil {
			t.Fatalf("n%d: Join: %v", i, err)
		}
	}
	user.waitEvents(t, 4)
	members := make(chan int, 1)
	go func() { members <- n0.obs.Memberlist().NumMembers() }()
	select {
	case got := <-members:
		if got != 4 {
			t.Fatalf("n0: NumMembers %d while its tracker is stuck, want 4", got)
		}
	case <-time.After(within):
		t.Fatalf("n0: NumMembers did not return within %v: memberlist is blocked", within)
	}
	if got := n0.tr.Current(); got != otellifecycle.ReadyState(1) {
		t.Fatalf("n0: tracker %v while stuck, want ready (1 nodes)", got)
	}
	if got := n0.obs.Stats().Coalesced; got < 1 {
		t.Fatalf("Stats().Coalesced %d, want ≥ 1: three joins arrived while the tracker was stuck", got)
	}

	unblock()
	waitFor(t, n0, otellifecycle.ReadyState(4))
	if got, want := states(n0), []otellifecycle.State{
		otellifecycle.ReadyState(1), otellifecycle.ReadyState(2), otellifecycle.ReadyState(4),
	}; !slices.Equal(got, want) {
		t.Fatalf("n0: states %v, want %v: the changes that came while stuck are applied together", got, want)
	}
	testsupport.WantStateGauge(t, n0.reader, otellifecycle.Ready)
}

func TestCloseStopsMovingTheTrackerNotTheUsersDelegate(t *testing.T) {
	user := &recording{}
	n0 := start(t, "n0", setup{conf: func(c *memberlist.Config) { c.Events = user }})
	if err := n0.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for range 2 { // Close is idempotent
		if err := n0.obs.Close(); err != nil {
			t.Fatal(err)
		}
	}

	n1 := start(t, "n1", setup{})
	if err := n1.obs.Join(t.Context(), []string{n0.addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n1, otellifecycle.ReadyState(2))
	if got := user.waitEvents(t, 2); !slices.Equal(got, []string{"join n0", "join n1"}) {
		t.Fatalf("the user's delegate got %v after Close, want join n0, join n1", got)
	}
	if got := states(n0); !slices.Equal(got, []otellifecycle.State{otellifecycle.ReadyState(1)}) {
		t.Fatalf("n0: states %v after Close, want Ready{1} alone", got)
	}
	if err := n0.obs.Join(t.Context(), nil); !errors.Is(err, lifecyclememberlist.ErrClosed) {
		t.Errorf("Join after Close: %v, want ErrClosed", err)
	}
}
