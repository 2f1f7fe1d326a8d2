//go:build raftv37

package lifecycleetcdraft_test

import (
	"context"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The little of the tests that depends on raft's version, for v3.7, whose
// messages have pointer fields; raftv36_test.go has the same for v3.6.

// message is an element of Ready.Messages.
type message = *pb.Message

// route says who sent m and to whom.
func route(m message) (from, to uint64) { return m.GetFrom(), m.GetTo() }

// deliver hands m to the node.
func deliver(ctx context.Context, n raft.Node, m message) error { return n.Step(ctx, m) }

// confChanges returns the configuration changes rd commits, in order.
func confChanges(rd raft.Ready) []pb.ConfChangeI {
	var out []pb.ConfChangeI
	for _, e := range rd.CommittedEntries {
		switch e.GetType() {
		case pb.EntryConfChange:
			cc := &pb.ConfChange{}
			if err := proto.Unmarshal(e.GetData(), cc); err != nil {
				panic(err)
			}
			out = append(out, cc)
		case pb.EntryConfChangeV2:
			cc := &pb.ConfChangeV2{}
			if err := proto.Unmarshal(e.GetData(), cc); err != nil {
				panic(err)
			}
			out = append(out, cc)
		}
	}
	return out
}

// confChange is a change of one node's place in the configuration.
func confChange(t pb.ConfChangeType, id uint64) pb.ConfChangeI {
	return &pb.ConfChange{Type: t.Enum(), NodeId: new(id)}
}

// readyWith is a Ready as the hook's benchmark feeds it: committed entries
// of the given types, and a SoftState when soft.
func readyWith(soft bool, types ...pb.EntryType) raft.Ready {
	rd := raft.Ready{}
	if soft {
		rd.SoftState = &raft.SoftState{Lead: 1, RaftState: raft.StateFollower}
	}
	for i, t := range types {
		rd.CommittedEntries = append(rd.CommittedEntries, &pb.Entry{Index: new(uint64(i + 1)), Type: t.Enum()})
	}
	return rd
}

// statusTerm is the node's term.
func statusTerm(st raft.Status) uint64 { return st.GetTerm() }
