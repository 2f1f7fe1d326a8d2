package enginetest

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/lifecyclekit/lifecycle/internal/testsupport"
)

// WantREADMELines fails t unless the first go code block after heading in
// the README at readme is, byte for byte, the lines of example_test.go
// marked "readme" (testsupport.Marked): the README's lines compile and
// run. Outside a checkout, from the module cache, the repository's README
// is not there, there is nothing to compare, and t is skipped.
func WantREADMELines(t *testing.T, readme, heading string) {
	t.Helper()
	if _, err := os.Stat(readme); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no %s: not in a checkout of the repository", readme)
	}
	got := testsupport.READMEBlock(t, readme, heading)
	if want := testsupport.Marked(t, "example_test.go", "readme"); got != want {
		t.Errorf("README:\n%s\nexample_test.go:\n%s", got, want)
	}
}
