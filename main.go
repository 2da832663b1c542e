// Command smsgw is a local daemon that sends consent-based transactional SMS
// through an Android phone or a GSM modem. See README.md.
package main

import (
	"os"

	"smsgw/daemon/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
