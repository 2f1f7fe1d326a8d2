// Package statemachine is the concurrency core behind otellifecycle's
// Tracker, kept free of OpenTelemetry so it can be reasoned about (and
// tested) on its own.
//
// A Machine holds the current Snapshot behind one atomic.Pointer: readers
// never lock and never allocate. Writers are serialized by one mutex, and
// everything a writer does for a transition (publish the snapshot, run
// the caller's record function, wake waiters, feed subscribers) happens
// inside that one critical section. That is what gives every observer the
// same order: the order of Seq. Ring, the bounded drop-oldest FIFO the
// tracker keeps its history and sink queues in, lives here too.
//
// Nothing a reader does can slow a writer down:
//   - waiters register a predicate that the writer evaluates on each new
//     state, so Wait never misses a state, however briefly it lasted;
//   - subscribers get a bounded channel; when it is full the writer drops
//     the oldest entry to make room and counts the loss (drop-oldest, so a
//     slow subscriber always ends up with the most recent transitions).
package statemachine
