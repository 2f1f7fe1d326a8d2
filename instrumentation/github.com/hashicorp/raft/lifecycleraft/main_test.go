package lifecycleraft_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// Raft, transport and Observer a test starts is shut down in its cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
