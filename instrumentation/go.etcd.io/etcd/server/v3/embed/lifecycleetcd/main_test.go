package lifecycleetcd_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// settle is how long the leak check waits for goroutines to end. etcd's
// peer HTTP server gives up a connection it was still serving when etcd
// closed only when the connection's read deadline (etcd's 5 s
// ConnReadTimeout) passes; goleak's own retries last about half a second.
const settle = 10 * time.Second

// TestMain fails the package's tests if any goroutine outlives them by
// more than settle: every etcd server, tracker and Observer a test starts
// is closed in its cleanup.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(settle)
		err := goleak.Find()
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines still running %v after the tests: %v\n", settle, err)
			code = 1
		}
	}
	os.Exit(code)
}
