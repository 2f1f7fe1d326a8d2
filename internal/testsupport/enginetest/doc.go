// Package enginetest is what the tests of the engine modules
// (instrumentation/…) share, so that the modules' tests read alike and a
// fix to a helper is made once:
//
//   - Node: a test cluster's node as its tracker shows it (its tracker
//     and metrics, its path of states, its timeline, how long it was not
//     Ready, its state gauge), which each module's own node embeds;
//   - Stall: a tracker stalled on its way to Ready, for the test that the
//     engine never waits on it;
//   - RaftInstruments: the check of a Raft module's
//     cluster.lifecycle.raft.* instruments;
//   - WantREADMELines: the README's lines for a module are its Example's.
//
// Only tests import it; it depends on the standard library, the
// OpenTelemetry API and SDK, otellifecycle and testsupport alone.
package enginetest
