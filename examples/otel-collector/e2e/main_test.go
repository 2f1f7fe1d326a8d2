//go:build e2e

package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives it; the programs the
// test starts are stopped by PID (see procs).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
