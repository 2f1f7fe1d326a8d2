// Package engine is what the engine modules of this repository
// (instrumentation/…) share of their Observers, so that a fix to it is
// made once and a reader who knows one module knows the others:
//
//   - Config: the options' values, their defaults and their validation,
//     with errors that name the module and the option (every module's
//     With* functions are Config's setters);
//   - Driver: for the Raft engines, the facts and the service's Intents
//     under one mutex, the one place that derives the phase from them and
//     moves the tracker, Join's schedule, Fail and Recover, and the first
//     steps of Leave, Shutdown and Close;
//   - Clock: the poll ticker and the leaderless deadline of an Observer's
//     goroutine;
//   - the failure reasons every Raft engine module gives alike.
//
// What differs per engine stays in its module: the facts it reads and how
// (its refresh), the mapping from facts to a phase (its derive, the table
// of its package documentation), what Leave and Shutdown ask of the
// engine, and the documentation its users read with go doc. Only the
// modules under github.com/lifecyclekit/lifecycle import this package; it
// depends on the OpenTelemetry API and otellifecycle alone.
package engine
