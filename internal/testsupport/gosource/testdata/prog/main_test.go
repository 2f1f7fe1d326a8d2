package main

import "flag"

func helper() {
	fs := flag.NewFlagSet("prog", flag.ExitOnError)
	fs.String("test-only", "", "") // in a test file: not the program's
}
