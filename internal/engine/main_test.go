package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// Driver's goroutines end with its Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
