// Package systemd holds the files smsgw ships for systemd: the service unit,
// a sysusers.d file that creates the smsgw user, and a tmpfiles.d file for
// its directories. They are plain files for packagers; `smsgw install`
// writes them from this package.
package systemd

import _ "embed"

// Unit is the hardened service unit, smsgw.service.
//
//go:embed smsgw.service
var Unit string

// Sysusers is smsgw.sysusers, for /usr/lib/sysusers.d/smsgw.conf.
//
//go:embed smsgw.sysusers
var Sysusers string

// Tmpfiles is smsgw.tmpfiles, for /usr/lib/tmpfiles.d/smsgw.conf.
//
//go:embed smsgw.tmpfiles
var Tmpfiles string
