package statemachine

// Waiters reports how many Wait calls are parked on m. Tests use it to
// know a waiter is registered before they transition past its state.
func Waiters[S, E any](m *Machine[S, E]) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.waiters)
}
