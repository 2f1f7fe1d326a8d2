package lifecyclememberlist_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// Observers' own, the trackers' and every memberlist node's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
