package otellifecycle

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReasonBytes bounds a failure reason. Reasons come from errors, and
// errors can hold anything: a stack, a peer's response, a megabyte of
// garbage. Every reason that enters a Tracker (ToFailed, FailedState, Set,
// and State.UnmarshalJSON) is normalized once, so no output downstream
// (an sd_notify datagram, a JSON body, a log record, a span attribute) can
// be broken by it:
//
//   - invalid UTF-8 becomes U+FFFD;
//   - control characters (newlines, carriage returns, tabs, NUL, C1
//     controls, DEL) become a space, so a reason is always one line;
//   - text longer than MaxReasonBytes is cut at a character boundary and
//     ends in "…", the whole staying within MaxReasonBytes bytes.
const MaxReasonBytes = 1024

const ellipsis = "…"

// NormalizeReason returns reason as a Tracker keeps it; see MaxReasonBytes.
// A reason that is already normal is returned as is, without allocating.
func NormalizeReason(reason string) string {
	if isNormal(reason) {
		return reason
	}
	var b strings.Builder
	b.Grow(min(len(reason), MaxReasonBytes))
	limit := MaxReasonBytes - len(ellipsis)
	for i, r := range reason {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(reason[i:]); size == 1 {
				r = unicode.ReplacementChar
			}
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > limit && len(reason)-i > 0 && !fitsRest(b.Len(), reason[i:]) {
			b.WriteString(ellipsis)
			return b.String()
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fitsRest reports whether the rest of the text, normalized, still fits in
// MaxReasonBytes after n bytes, so that a reason that is long only because
// of a few multi-byte replacements is not cut needlessly.
func fitsRest(n int, rest string) bool {
	for i, r := range rest {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			if _, s := utf8.DecodeRuneInString(rest[i:]); s == 1 {
				size = utf8.RuneLen(unicode.ReplacementChar)
			}
		}
		if unicode.IsControl(r) {
			size = 1
		}
		n += size
		if n > MaxReasonBytes {
			return false
		}
	}
	return true
}

func isNormal(s string) bool {
	if len(s) > MaxReasonBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			return isNormalSlow(s)
		}
	}
	return true
}

func isNormalSlow(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
