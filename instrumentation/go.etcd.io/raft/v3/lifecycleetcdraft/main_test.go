package lifecycleetcdraft_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// node, loop and Observer a test starts is stopped in its cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
