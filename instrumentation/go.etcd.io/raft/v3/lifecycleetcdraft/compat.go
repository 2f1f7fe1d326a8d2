package lifecycleetcdraft

import pb "go.etcd.io/raft/v3/raftpb"

// raft v3.7 made the fields of its protocol messages pointers (an Entry's
// Type is a *EntryType there, an EntryType in v3.6). This package reads
// only what both versions have in common, and reads the one field whose
// type differs through isConfChange, so that it compiles against either:
// Go's minimal version selection builds it against v3.7 in a module that
// requires v3.7.

// isConfChange says whether an entry's type is a configuration change, the
// type given as v3.6 (EntryType) or v3.7 (*EntryType) declares it.
func isConfChange[T pb.EntryType | *pb.EntryType](t T) bool {
	switch v := any(t).(type) {
	case pb.EntryType:
		return v != pb.EntryNormal
	case *pb.EntryType:
		return v != nil && *v != pb.EntryNormal
	}
	return false
}
