module github.com/lifecyclekit/lifecycle/instrumentation/github.com/hashicorp/raft/lifecycleraft

go 1.26.0

require github.com/lifecyclekit/lifecycle v0.0.0-00010101000000-000000000000

replace github.com/lifecyclekit/lifecycle => ../../../../..
