package lifecyclememberlist_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist"
	"github.com/lifecyclekit/lifecycle/internal/testsupport"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestJoinCountsAttemptsUntilASeedStarts(t *testing.T) {
	seedAddr, seedPort := unusedAddr(t)
	backoff := []time.Duration{0, 50 * time.Millisecond}
	for range 40 {
		backoff = append(backoff, 100*time.Millisecond)
	}
	joiner := start(t, "joiner", setup{opts: []lifecyclememberlist.Option{lifecyclememberlist.WithJoinBackoff(backoff...)}})
	joined := make(chan error, 1)
	go func() { joined <- joiner.obs.Join(t.Context(), []string{seedAddr}) }()

	// The seed is down for three attempts at least.
	waitFor(t, joiner, otellifecycle.JoiningState(3))
	seed := start(t, "seed", setup{conf: func(c *memberlist.Config) { c.BindPort = seedPort }})
	if err := seed.obs.Join(t.Context(), nil); err != nil {
		t.Fatalf("seed: Join: %v", err)
	}
	select {
	case err := <-joined:
		if err != nil {
			t.Fatalf("joiner: Join: %v", err)
		}
	case <-time.After(within):
		t.Fatalf("joiner: Join did not return within %v", within)
	}

	waitFor(t, joiner, otellifecycle.ReadyState(2))
	waitFor(t, seed, otellifecycle.ReadyState(2))
	// Joining{0}, Joining{1} … then Ready{2}; or Ready{1} first, when an
	// attempt reached the seed's port in the instant between its listener
	// and its own entry in memberlist.Create, so that the seed's state
	// named nobody yet: the count then follows the seed's announcement.
	got := states(joiner)
	k := 0
	for k < len(got) && got[k] == otellifecycle.JoiningState(uint32(k)) {
		k++
	}
	ready := got[k:]
	if k < 4 || len(ready) == 0 || len(ready) > 2 || ready[len(ready)-1] != otellifecycle.ReadyState(2) ||
		len(ready) == 2 && ready[0] != otellifecycle.ReadyState(1) {
		t.Fatalf("joiner: states %v, want at least Joining{0} … Joining{3} then Ready{2} (or Ready{1}, Ready{2})", got)
	}
	testsupport.WantStateGauge(t, joiner.reader, otellifecycle.Ready)
	testsupport.WantStateGauge(t, seed.reader, otellifecycle.Ready)
}

func TestJoinFailsNamingTheSeedsWhenEveryAttemptFails(t *testing.T) {
	a1, _ := unusedAddr(t)
	a2, _ := unusedAddr(t)
	joiner := start(t, "joiner", setup{opts: []lifecyclememberlist.Option{
		lifecyclememberlist.WithJoinBackoff(0, 10*time.Millisecond, 20*time.Millisecond)}})

	err := joiner.obs.Join(t.Context(), []string{a1, a2})
	if err == nil {
		t.Fatal("Join with every seed down returned nil")
	}
	got := states(joiner)
	if len(got) != 4 || got[0] != otellifecycle.JoiningState(0) || got[1] != otellifecycle.JoiningState(1) ||
		got[2] != otellifecycle.JoiningState(2) || got[3].Phase != otellifecycle.Failed {
		t.Fatalf("states %v, want Joining{0}, Joining{1}, Joining{2}, Failed", got)
	}
	reason := got[3].Reason
	for _, want := range []string{a1, a2, "join failed after 3 attempts: ", "connection refused"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not name %q", reason, want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if reason != otellifecycle.NormalizeReason(reason) || strings.Contains(reason, "errors occurred") {
		t.Errorf("reason %q is not memberlist's errors on one line", reason)
	}
	if err.Error() != "lifecyclememberlist: "+reason {
		t.Errorf("error %q, want the reason %q", err, reason)
	}
	if last := errors.Unwrap(err); last == nil || !strings.Contains(last.Error(), "failed to join "+a2) {
		t.Errorf("error %v wraps %v, want memberlist's last Join error", err, last)
	}
	testsupport.WantStateGauge(t, joiner.reader, otellifecycle.Failed)
}

func TestFailedJoinIsRetriedByJoiningAgain(t *testing.T) {
	seedAddr, seedPort := unusedAddr(t)
	joiner := start(t, "joiner", setup{opts: []lifecyclememberlist.Option{lifecyclememberlist.WithJoinBackoff(0)}})
	if err := joiner.obs.Join(t.Context(), []string{seedAddr}); err == nil {
		t.Fatal("Join with its seed down returned nil")
	}
	waitFailed(t, joiner)

	seed := start(t, "seed", setup{conf: func(c *memberlist.Config) { c.BindPort = seedPort }})
	if err := seed.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if err := joiner.obs.Join(t.Context(), []string{seedAddr}); err != nil {
		t.Fatalf("second Join: %v", err)
	}
	got := states(joiner)
	if len(got) != 4 || got[1].Phase != otellifecycle.Failed || got[2] != otellifecycle.JoiningState(0) ||
		got[3] != otellifecycle.ReadyState(2) {
		t.Fatalf("states %v, want Joining{0}, Failed, Joining{0}, Ready{2}", got)
	}
	testsupport.WantStateGauge(t, joiner.reader, otellifecycle.Ready)
}

func TestFailedJoinerThatTheClusterFindsIsReady(t *testing.T) {
	down, _ := unusedAddr(t)
	lonely := start(t, "lonely", setup{opts: []lifecyclememberlist.Option{lifecyclememberlist.WithJoinBackoff(0)}})
	if err := lonely.obs.Join(t.Context(), []string{down}); err == nil {
		t.Fatal("Join with its seed down returned nil")
	}

	// Another node is given the lonely one as its seed.
	other := start(t, "other", setup{})
	if err := other.obs.Join(t.Context(), []string{lonely.addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lonely, otellifecycle.ReadyState(2))
	assertTail(t, lonely, otellifecycle.JoiningState(0), states(lonely)[1], otellifecycle.ReadyState(2))
	if s := states(lonely)[1]; s.Phase != otellifecycle.Failed {
		t.Fatalf("states %v, want Joining{0}, Failed, Ready{2}", states(lonely))
	}
	testsupport.WantStateGauge(t, lonely.reader, otellifecycle.Ready)
}

// A Join whose ctx ends returns ctx's error and drops its intent: nothing
// is Failed, and the node is what it was before the Join (Starting before
// the first; Ready{n} for a member joining again).
func TestJoinCancelledDropsItsIntent(t *testing.T) {
	down, _ := unusedAddr(t)
	waitOneHour := setup{opts: []lifecyclememberlist.Option{lifecyclememberlist.WithJoinBackoff(0, time.Hour)}}
	// cancelledJoin runs n's Join through down until it waits for its
	// second attempt, then cancels it.
	cancelledJoin := func(t *testing.T, n *node) {
		t.Helper()
		before := len(states(n))
		ctx, cancel := context.WithCancel(t.Context())
		joined := make(chan error, 1)
		go func() { joined <- n.obs.Join(ctx, []string{down}) }()
		testsupport.Eventually(t, "the first attempt made", within, func() bool { return len(states(n)) > before })
		time.Sleep(100 * time.Millisecond) // memberlist's Join to a closed port fails at once
		cancel()
		select {
		case err := <-joined:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Join returned %v, want an error wrapping context.Canceled", err)
			}
		case <-time.After(within):
			t.Fatalf("Join did not return within %v of its context's end", within)
		}
	}

	t.Run("first Join", func(t *testing.T) {
		joiner := start(t, "joiner", waitOneHour)
		cancelledJoin(t, joiner)
		if got, want := states(joiner), []otellifecycle.State{otellifecycle.JoiningState(0), otellifecycle.StartingState()}; !slices.Equal(got, want) {
			t.Fatalf("states %v, want %v", got, want)
		}
		testsupport.WantStateGauge(t, joiner.reader, otellifecycle.Starting)
	})
	t.Run("a member joining again", func(t *testing.T) {
		a := start(t, "a", setup{})
		if err := a.obs.Join(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		b := start(t, "b", waitOneHour)
		if err := b.obs.Join(t.Context(), []string{a.addr()}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, b, otellifecycle.ReadyState(2))
		cancelledJoin(t, b)
		assertTail(t, b, otellifecycle.ReadyState(2), otellifecycle.JoiningState(0), otellifecycle.ReadyState(2))
	})
}

// After Close, Shutdown or Leave, Join asks memberlist nothing and
// returns ErrClosed: a node that is going away is not joined back.
func TestJoinAfterCloseShutdownOrLeaveIsErrClosed(t *testing.T) {
	for name, end := range map[string]func(*lifecyclememberlist.Observer) error{
		"Close":    (*lifecyclememberlist.Observer).Close,
		"Shutdown": (*lifecyclememberlist.Observer).Shutdown,
		"Leave":    func(o *lifecyclememberlist.Observer) error { return o.Leave(time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			seed := start(t, "seed", setup{})
			if err := seed.obs.Join(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			n := start(t, "n", setup{})
			if err := end(n.obs); err != nil {
				t.Fatal(err)
			}
			if err := n.obs.Join(t.Context(), []string{seed.addr()}); !errors.Is(err, lifecyclememberlist.ErrClosed) {
				t.Errorf("Join after %s: %v, want ErrClosed", name, err)
			}
			time.Sleep(200 * time.Millisecond)
			if got := seed.obs.Memberlist().NumMembers(); got != 1 {
				t.Errorf("the seed has %d members after a Join that was refused, want 1", got)
			}
		})
	}
}

// A Leave or a Shutdown while Join waits for its next attempt ends the
// Join at once with ErrClosed; it tries no more.
func TestJoinStopsWhenTheNodeGoesAwayBetweenAttempts(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*lifecyclememberlist.Observer) error
		last otellifecycle.State
	}{
		{"Leave", func(o *lifecyclememberlist.Observer) error { return o.Leave(time.Second) }, otellifecycle.DrainingState()},
		{"Shutdown", (*lifecyclememberlist.Observer).Shutdown, otellifecycle.StoppingState()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			down, _ := unusedAddr(t)
			n := start(t, "n", setup{opts: []lifecyclememberlist.Option{lifecyclememberlist.WithJoinBackoff(0, time.Hour)}})
			joined := make(chan error, 1)
			go func() { joined <- n.obs.Join(t.Context(), []string{down}) }()
			waitFor(t, n, otellifecycle.JoiningState(0))
			time.Sleep(100 * time.Millisecond) // the first attempt failed: Join waits
			if err := tc.end(n.obs); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-joined:
				if !errors.Is(err, lifecyclememberlist.ErrClosed) {
					t.Errorf("Join: %v, want ErrClosed", err)
				}
			case <-time.After(within):
				t.Fatalf("Join still waiting %v after %s", within, tc.name)
			}
			assertTail(t, n, otellifecycle.JoiningState(0), tc.last)
		})
	}
}

// One Join at a time: a second one, while the first runs, returns an
// error at once.
func TestJoinWhileAnotherRunsIsAnError(t *testing.T) {
	down, _ := unusedAddr(t)
	n := start(t, "n", setup{opts: []lifecyclememberlist.Option{lifecyclememberlist.WithJoinBackoff(0, time.Hour)}})
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() { first <- n.obs.Join(ctx, []string{down}) }()
	waitFor(t, n, otellifecycle.JoiningState(0))
	err := n.obs.Join(t.Context(), []string{down})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "another Join is running") {
		t.Errorf("second Join: %v, want an error", err)
	}
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first Join: %v, want context.Canceled", err)
	}
}

func TestFirstNodeJoinsWithoutSeedsAndIsReadyAtOnce(t *testing.T) {
	first := start(t, "first", setup{})
	if got := first.tr.Current(); got != otellifecycle.StartingState() {
		t.Fatalf("before Join: %v, want starting: a node is not Ready before it joins", got)
	}
	if err := first.obs.Join(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := states(first); len(got) != 1 || got[0] != otellifecycle.ReadyState(1) {
		t.Fatalf("states %v, want Ready{1} alone", got)
	}
	testsupport.WantStateGauge(t, first.reader, otellifecycle.Ready)
}

func TestCreateFailureIsFailed(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tr, _ := newTracker(t)
	conf := testConfig("n")
	conf.BindPort = busy.Addr().(*net.TCPAddr).Port
	obs, err := lifecyclememberlist.Create(conf, tr)
	if err == nil {
		_ = obs.Shutdown()
		t.Fatal("Create on a port in use returned nil")
	}
	if got := tr.Current(); got.Phase != otellifecycle.Failed || !strings.HasPrefix(got.Reason, "create memberlist: ") {
		t.Fatalf("tracker %v, want Failed{create memberlist: …}", got)
	}
}

func TestInvalidOptionsAreErrorsThatNameThem(t *testing.T) {
	for _, tc := range []struct {
		opt  lifecyclememberlist.Option
		want string
	}{
		{lifecyclememberlist.WithJoinBackoff(), "WithJoinBackoff: at least one delay"},
		{lifecyclememberlist.WithJoinBackoff(0, -time.Second), "WithJoinBackoff: delay 1 must be ≥ 0, got -1s"},
		{lifecyclememberlist.WithHealthTimeout(-time.Second), "WithHealthTimeout: must be ≥ 0, got -1s"},
	} {
		tr, _ := newTracker(t)
		obs, err := lifecyclememberlist.Create(testConfig("n"), tr, tc.opt)
		if err == nil {
			_ = obs.Shutdown()
			t.Fatalf("Create with a bad option returned nil, want %q", tc.want)
		}
		if !strings.Contains(err.Error(), "lifecyclememberlist: "+tc.want) {
			t.Errorf("error %q, want it to say %q", err, tc.want)
		}
		if got := tr.Current(); got != otellifecycle.StartingState() {
			t.Errorf("a bad option moved the tracker to %v", got)
		}
	}
	tr, _ := newTracker(t)
	if _, err := lifecyclememberlist.Create(nil, tr); err == nil {
		t.Error("Create(nil conf) returned nil")
	}
	if _, err := lifecyclememberlist.Create(testConfig("n"), nil); err == nil {
		t.Error("Create(nil tracker) returned nil")
	}
}
