module github.com/lifecyclekit/lifecycle

go 1.26.0
