package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// node a test starts (Raft, its transport, BoltDB, HTTP server, providers)
// is stopped in its cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
