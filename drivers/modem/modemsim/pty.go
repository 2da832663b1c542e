package modemsim

import (
	"errors"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY serves a Modem on a pseudo-terminal and keeps a symbolic link to its
// device, like /dev/serial/by-id does for a USB modem. Unplug removes the
// link and the terminal; Replug makes a new terminal behind the same link.
type PTY struct {
	m    *Modem
	link string

	mu     sync.Mutex
	master *os.File
	slave  *os.File
}

// OpenPTY serves m on a new pseudo-terminal reachable at link.
func (m *Modem) OpenPTY(link string) (*PTY, error) {
	p := &PTY{m: m, link: link}
	if err := p.plug(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PTY) plug() error {
	master, slave, err := pty.Open()
	if err != nil {
		return err
	}
	if err := makeRaw(slave); err != nil {
		_ = master.Close()
		_ = slave.Close()
		return err
	}
	_ = os.Remove(p.link)
	if err := os.Symlink(slave.Name(), p.link); err != nil {
		_ = master.Close()
		_ = slave.Close()
		return err
	}
	p.mu.Lock()
	p.master, p.slave = master, slave
	p.mu.Unlock()
	// The slave stays open here so that the master does not read EIO each
	// time the driver closes its end.
	go func() { _ = p.m.Serve(master) }()
	return nil
}

// makeRaw turns off echo and line editing so that bytes pass unchanged.
func makeRaw(f *os.File) error {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

// Path is the link a driver opens.
func (p *PTY) Path() string { return p.link }

// Unplug removes the device, as pulling a USB modem out does.
func (p *PTY) Unplug() {
	p.m.Unplug()
	p.unplug()
}

func (p *PTY) unplug() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = os.Remove(p.link)
	if p.master != nil {
		_ = p.master.Close()
		_ = p.slave.Close()
		p.master, p.slave = nil, nil
	}
}

// Replug brings the device back at the same link.
func (p *PTY) Replug() error {
	p.m.Replug()
	return p.plug()
}

// Close removes the device for good.
func (p *PTY) Close() error {
	p.unplug()
	return errors.Join()
}
