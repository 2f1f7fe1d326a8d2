package otellifecycle

import (
	"bytes"
	"encoding/json"
	"time"
)

// Transition is one change of state, as every observer sees it: history,
// subscribers, sinks, logs, spans and metrics all get the same values in
// the same order.
//
// Seq 0 is not a change: it is the tracker's initial state (From and To
// both Starting, InPhase 0), given once to the log and to every sink when
// the tracker is created, so that each destination knows the state from
// the moment it is attached (systemd shows "starting" before the first
// transition). History and subscribers start at Seq 1.
type Transition struct {
	Seq      uint64 // 1, 2, 3 … per tracker, no gaps; 0 for the initial state
	From, To State
	Detail   string        // To.Detail()
	At       time.Time     // when To was entered
	InPhase  time.Duration // how long From lasted
}

// MarshalJSON encodes t as the status endpoint's history entries:
// {"seq":4,"from":{…},"to":{…},"detail":"…","at":"<RFC 3339, UTC>","in_phase_seconds":1.5}.
func (t Transition) MarshalJSON() ([]byte, error) {
	b, err := encodeJSON(struct {
		Seq     uint64    `json:"seq"`
		From    State     `json:"from"`
		To      State     `json:"to"`
		Detail  string    `json:"detail"`
		At      time.Time `json:"at"`
		InPhase float64   `json:"in_phase_seconds"`
	}{t.Seq, t.From, t.To, t.Detail, t.At.UTC(), t.InPhase.Seconds()})
	return bytes.TrimSuffix(b, []byte("\n")), err
}

// encodeJSON encodes v and a newline, leaving <, > and & as they are (the
// bodies are JSON, never HTML).
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}
