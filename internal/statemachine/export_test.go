package statemachine

// Waiters reports how many Wait calls are parked on m (tests only).
func Waiters[S, E any](m *Machine[S, E]) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.waiters)
}
