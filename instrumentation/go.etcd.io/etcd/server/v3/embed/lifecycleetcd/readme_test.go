package lifecycleetcd_test

import (
	"testing"

	"github.com/lifecyclekit/lifecycle/internal/testsupport/enginetest"
)

// The README's lines for embedded etcd are the Example's, byte for byte:
// they compile and run. (Outside a checkout, from the module cache, the
// repository's README is not there, and there is nothing to compare.)
func TestREADMELinesAreTheExamples(t *testing.T) {
	enginetest.WantREADMELines(t, "../../../../../../../README.md", "### Embedded etcd")
}
