package statemachine

// Waiters reports how many Wait calls are parked on m, so the package's
// tests can know a waiter is registered before they transition past its
// state, and that a cancelled Wait leaves none behind.
func Waiters[S comparable, E any](m *Machine[S, E]) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readers == nil {
		return 0
	}
	return len(m.readers.waiters)
}
