package otellifecycle

import "github.com/lifecyclekit/lifecycle/internal/statemachine"

// Waiters reports how many Wait calls are parked on t (tests only).
func Waiters(t *Tracker) int { return statemachine.Waiters(t.m) }
