package kubernetes_test

import (
	"sync"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/gosource"
)

// raftNodeDir is examples/raft-node, the command the manifests run.
const raftNodeDir = "../raft-node"

// readRaftNode reads what the manifests rely on in raft-node's source,
// from its non-test files: the flags of its one-node command line (the
// FlagSet made by flag.NewFlagSet("raft-node", …); the demo's, "raft-node
// demo", is another), its HTTP routes and its gRPC health registration. A
// renamed flag or a moved probe then fails here and not in someone's
// cluster.
var readRaftNode = sync.OnceValues(func() (*gosource.Program, error) { return gosource.Read(raftNodeDir, "raft-node") })
