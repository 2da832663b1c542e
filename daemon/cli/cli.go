// Package cli implements the smsgw command line.
package cli

import (
	"fmt"
	"io"
)

// Version is set at build time.
var Version = "dev"

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "smsgw: not yet wired")
	return 2
}
