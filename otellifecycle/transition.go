package otellifecycle

import (
	"strconv"
	"time"
)

// Transition is one change of state, as every observer sees it: history,
// subscribers, sinks, logs, spans and metrics all get the same values in
// the same order.
type Transition struct {
	Seq      uint64 // 1, 2, 3 … per tracker, no gaps
	From, To State
	Detail   string        // To.Detail()
	At       time.Time     // when To was entered
	InPhase  time.Duration // how long From lasted
}

// MarshalJSON encodes t as the status endpoint's history entries:
// {"seq":4,"from":{…},"to":{…},"detail":"…","at":"<RFC 3339, UTC>","in_phase_seconds":1.5}.
func (t Transition) MarshalJSON() ([]byte, error) {
	return t.appendJSON(make([]byte, 0, 192)), nil
}

func (t Transition) appendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, t.Seq, 10)
	b = append(b, `,"from":`...)
	b = t.From.appendJSON(b)
	b = append(b, `,"to":`...)
	b = t.To.appendJSON(b)
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, t.Detail)
	b = append(b, `,"at":`...)
	b = appendJSONTime(b, t.At)
	b = append(b, `,"in_phase_seconds":`...)
	b = strconv.AppendFloat(b, t.InPhase.Seconds(), 'f', -1, 64)
	return append(b, '}')
}

func appendJSONTime(b []byte, at time.Time) []byte {
	b = append(b, '"')
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
