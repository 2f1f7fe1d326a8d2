// Package jaeger pins Jaeger v1.75.0 (= Jaeger v2.12.0) as a tool of its
// own module, so the end-to-end test can build the real Jaeger
// (all-in-one) without its dependencies touching the library's go.mod:
//
//	go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0
//	go build -o BIN github.com/jaegertracing/jaeger/cmd/jaeger
//
// (go install …@v1.75.0 does not work: Jaeger's go.mod has replace
// directives, which go install refuses.)
package jaeger
