package lifecycleetcd_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

// The README's lines for embedded etcd are the Example's, byte for byte:
// they compile and run. (Outside a checkout, from the module cache, the
// repository's README is not there, and there is nothing to compare.)
func TestREADMELinesAreTheExamples(t *testing.T) {
	const readme = "../../../../../../../README.md"
	if _, err := os.Stat(readme); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no %s: not in a checkout of the repository", readme)
	}
	got := testsupport.READMEBlock(t, readme, "### Embedded etcd")
	if want := testsupport.Marked(t, "example_test.go", "readme"); got != want {
		t.Errorf("README:\n%s\nexample_test.go:\n%s", got, want)
	}
}
