package main

import "flag"

func main() {
	name := "listen"
	fs := flag.NewFlagSet("computed", flag.ExitOnError)
	fs.String(name, "", "")
}
