package statemachine

// Ring is a bounded FIFO that overwrites its oldest entry when full. Its
// backing array grows on demand up to the bound, so a Ring that never fills
// costs only what it holds. A Ring is not safe for concurrent use; its owner
// locks around it.
type Ring[T any] struct {
	buf   []T
	head  int // index of the oldest entry
	n     int // entries held
	bound int
}

// NewRing returns a Ring that holds at most bound entries. A bound of 0
// holds nothing: Push drops every entry.
func NewRing[T any](bound int) Ring[T] {
	return Ring[T]{bound: bound}
}

// Len is the number of entries held.
func (r *Ring[T]) Len() int { return r.n }

// Cap is the bound the Ring was made with.
func (r *Ring[T]) Cap() int { return r.bound }

// Push appends v. When the Ring is full it first drops the oldest entry and
// reports dropped == true; with a bound of 0, v itself is dropped.
func (r *Ring[T]) Push(v T) (dropped bool) {
	if r.bound == 0 {
		return true
	}
	if r.n < r.bound {
		if r.n < len(r.buf) {
			r.buf[(r.head+r.n)%len(r.buf)] = v
		} else {
			r.grow()
			r.buf = append(r.buf, v)
		}
		r.n++
		return false
	}
	r.buf[r.head] = v
	r.head = (r.head + 1) % len(r.buf)
	return true
}

// Pop removes and returns the oldest entry.
func (r *Ring[T]) Pop() (v T, ok bool) {
	if r.n == 0 {
		return v, false
	}
	var zero T
	v, r.buf[r.head] = r.buf[r.head], zero // let the GC have what v held
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 {
		r.head = 0
	}
	return v, true
}

// grow makes room for one more entry at the end of buf, keeping entries
// oldest first from index 0 and never reserving more than the bound.
func (r *Ring[T]) grow() {
	if r.head == 0 && len(r.buf) < cap(r.buf) {
		return
	}
	c := min(max(2*len(r.buf), 4), r.bound)
	b := make([]T, 0, c)
	r.buf = r.AppendTo(b)
	r.head = 0
}

// AppendTo appends the entries, oldest first, to dst and returns it.
func (r *Ring[T]) AppendTo(dst []T) []T {
	for i := 0; i < r.n; i++ {
		dst = append(dst, r.buf[(r.head+i)%len(r.buf)])
	}
	return dst
}
