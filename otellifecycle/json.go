package otellifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// MarshalJSON encodes s as the Rust tracker this package descends from does
// (serde's internally tagged, snake_case form), byte for byte:
// {"phase":"starting"},
// {"phase":"joining","attempt":1}, {"phase":"ready","nodes":3},
// {"phase":"failed","reason":"timeout"}.
func (s State) MarshalJSON() ([]byte, error) {
	return s.appendJSON(make([]byte, 0, 48)), nil
}

func (s State) appendJSON(b []byte) []byte {
	b = append(b, `{"phase":`...)
	b = appendJSONString(b, string(s.Phase))
	switch s.Phase {
	case Joining:
		b = append(b, `,"attempt":`...)
		b = strconv.AppendUint(b, uint64(s.Attempt), 10)
	case Ready:
		b = append(b, `,"nodes":`...)
		b = strconv.AppendInt(b, int64(s.Nodes), 10)
	case Failed:
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, s.Reason)
	}
	return append(b, '}')
}

// appendJSONString quotes s as serde_json does: only '"', '\\' and control
// characters below U+0020 are escaped, and invalid UTF-8 becomes U+FFFD, so
// the result is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// wireState is the JSON form with every field optional, so that
// UnmarshalJSON can tell a missing field from a zero one.
type wireState struct {
	Phase   *string `json:"phase"`
	Attempt *uint32 `json:"attempt"`
	Nodes   *int64  `json:"nodes"`
	Reason  *string `json:"reason"`
}

// UnmarshalJSON accepts exactly the forms MarshalJSON writes. It rejects,
// with an error that names the problem, an unknown phase, a missing or
// extra payload field, a field of the wrong type or out of range, unknown
// fields, and trailing data. A reason is normalized (see MaxReasonBytes).
func (s *State) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireState
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %w", errNotState, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected data after the state", errNotState)
	}
	if w.Phase == nil {
		return fmt.Errorf(`%w: missing "phase"`, errNotState)
	}
	p := Phase(*w.Phase)
	if p.index() < 0 {
		return fmt.Errorf("%w: unknown phase %q (want one of %v)", errNotState, *w.Phase, phases)
	}
	need := map[Phase]string{Joining: "attempt", Ready: "nodes", Failed: "reason"}[p]
	present := map[string]bool{"attempt": w.Attempt != nil, "nodes": w.Nodes != nil, "reason": w.Reason != nil}
	for _, field := range [...]string{"attempt", "nodes", "reason"} {
		switch {
		case field == need && !present[field]:
			return fmt.Errorf("%w: phase %q needs %q", errNotState, p, field)
		case field != need && present[field]:
			return fmt.Errorf("%w: phase %q takes no %q", errNotState, p, field)
		}
	}
	out := State{Phase: p}
	switch p {
	case Joining:
		out.Attempt = *w.Attempt
	case Ready:
		if *w.Nodes < 0 {
			return fmt.Errorf(`%w: "nodes" must be ≥ 0, got %d`, errNotState, *w.Nodes)
		}
		if int64(int(*w.Nodes)) != *w.Nodes {
			return fmt.Errorf(`%w: "nodes" out of range: %d`, errNotState, *w.Nodes)
		}
		out.Nodes = int(*w.Nodes)
	case Failed:
		out.Reason = NormalizeReason(*w.Reason)
	}
	*s = out
	return nil
}
