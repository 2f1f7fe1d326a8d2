// Package jaeger pins Jaeger v1.76.0 as a tool of its own module, so the
// end-to-end test can build the real Jaeger (all-in-one) without its
// dependencies touching the library's go.mod:
//
//	go build -o BIN github.com/jaegertracing/jaeger/cmd/jaeger
package jaeger
