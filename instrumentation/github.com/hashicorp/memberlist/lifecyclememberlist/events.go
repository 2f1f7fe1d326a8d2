package lifecyclememberlist

import "github.com/hashicorp/memberlist"

// events is the EventDelegate that Create puts in memberlist's Config. Each
// method records the event without waiting for anything but evMu (see the
// package doc, "Never blocking memberlist"), then calls the caller's
// delegate with the same node.
type events struct {
	o    *Observer
	next memberlist.EventDelegate // the caller's, or nil
}

var _ memberlist.EventDelegate = (*events)(nil)

func (e *events) NotifyJoin(n *memberlist.Node) {
	o := e.o
	o.joins.Add(1)
	o.evMu.Lock()
	o.alive[n.Name] = struct{}{}
	o.evMu.Unlock()
	o.membershipChangedLater()
	if e.next != nil {
		e.next.NotifyJoin(n)
	}
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	o := e.o
	o.leaves.Add(1)
	o.evMu.Lock()
	delete(o.alive, n.Name)
	if n.Name == o.self {
		o.selfLeft = true
	}
	o.evMu.Unlock()
	o.membershipChangedLater()
	if e.next != nil {
		e.next.NotifyLeave(n)
	}
}

func (e *events) NotifyUpdate(n *memberlist.Node) {
	e.o.updates.Add(1)
	if e.next != nil {
		e.next.NotifyUpdate(n)
	}
}

// membershipChangedLater wakes the Observer's goroutine without waiting.
// When a wake-up is already pending, this change is applied together with
// the one that sent it, by one read of the membership: counted as
// coalesced.
func (o *Observer) membershipChangedLater() {
	if o.closed.Load() {
		return
	}
	select {
	case o.kick <- struct{}{}:
	default:
		o.coalesced.Add(1)
	}
}
