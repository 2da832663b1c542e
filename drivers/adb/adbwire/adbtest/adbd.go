package adbtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Device transport commands.
const (
	cmdCNXN = 0x4e584e43
	cmdAUTH = 0x48545541
	cmdOPEN = 0x4e45504f
	cmdOKAY = 0x59414b4f
	cmdWRTE = 0x45545257
	cmdCLSE = 0x45534c43

	protoVersion = 0x01000001
	maxData      = 256 << 10
	chunk        = 64 << 10
)

// Adbd is a fake phone reached over TCP by a real adb server (`adb connect`).
// It answers CNXN with a device banner (and any AUTH signature with CNXN,
// as if the host key were accepted), and serves shell v2, plain shell, exec
// and tcp: streams from its Phone. Ports 5555–5585 are best avoided: the
// server probes them for emulators.
type Adbd struct {
	Phone    Phone
	Features []string

	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Listen starts the fake phone on a loopback port.
func (a *Adbd) Listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	a.ln = ln
	a.conns = map[net.Conn]bool{}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.conns[c] = true
			a.mu.Unlock()
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				(&session{a: a, c: c, streams: map[uint32]*stream{}}).run()
				a.mu.Lock()
				delete(a.conns, c)
				a.mu.Unlock()
			}()
		}
	}()
	return nil
}

// Addr is where the fake phone listens.
func (a *Adbd) Addr() string { return a.ln.Addr().String() }

// Close stops listening and drops every connection.
func (a *Adbd) Close() error {
	err := a.ln.Close()
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
	return err
}

type session struct {
	a       *Adbd
	c       net.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	streams map[uint32]*stream
	nextID  uint32
	wg      sync.WaitGroup
}

type stream struct {
	local, remote uint32
	acks          chan struct{}
	tcp           net.Conn
	closeOnce     sync.Once
	done          chan struct{}
}

func (st *stream) shut() {
	st.closeOnce.Do(func() {
		close(st.done)
		if st.tcp != nil {
			st.tcp.Close()
		}
	})
}

func (s *session) write(cmd, arg0, arg1 uint32, data []byte) error {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], cmd)
	binary.LittleEndian.PutUint32(h[4:], arg0)
	binary.LittleEndian.PutUint32(h[8:], arg1)
	binary.LittleEndian.PutUint32(h[12:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[16:], 0)
	binary.LittleEndian.PutUint32(h[20:], cmd^0xffffffff)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.c.Write(h[:]); err != nil {
		return err
	}
	_, err := s.c.Write(data)
	return err
}

func (s *session) run() {
	defer func() {
		s.c.Close()
		s.mu.Lock()
		for _, st := range s.streams {
			st.shut()
		}
		s.mu.Unlock()
		s.wg.Wait()
	}()
	var h [24]byte
	for {
		if _, err := io.ReadFull(s.c, h[:]); err != nil {
			return
		}
		cmd := binary.LittleEndian.Uint32(h[0:])
		arg0 := binary.LittleEndian.Uint32(h[4:])
		arg1 := binary.LittleEndian.Uint32(h[8:])
		n := binary.LittleEndian.Uint32(h[12:])
		if binary.LittleEndian.Uint32(h[20:]) != cmd^0xffffffff || n > 1<<20 {
			return
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(s.c, data); err != nil {
			return
		}
		switch cmd {
		case cmdCNXN, cmdAUTH:
			banner := "device::ro.product.name=fakeprod;ro.product.model=FakePhone;ro.product.device=fakedev;features=" + strings.Join(s.a.Features, ",")
			if s.write(cmdCNXN, protoVersion, maxData, []byte(banner)) != nil {
				return
			}
		case cmdOPEN:
			s.open(arg0, strings.TrimRight(string(data), "\x00"))
		case cmdOKAY:
			if st := s.get(arg1); st != nil {
				select {
				case st.acks <- struct{}{}:
				case <-st.done:
				}
			}
		case cmdWRTE:
			st := s.get(arg1)
			if st == nil || st.tcp == nil {
				continue
			}
			if _, err := st.tcp.Write(data); err != nil {
				s.closeStream(st)
				continue
			}
			_ = s.write(cmdOKAY, st.local, st.remote, nil)
		case cmdCLSE:
			if st := s.get(arg1); st != nil {
				s.mu.Lock()
				delete(s.streams, st.local)
				s.mu.Unlock()
				st.shut()
			}
		}
	}
}

func (s *session) get(id uint32) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[id]
}

func (s *session) closeStream(st *stream) {
	s.mu.Lock()
	_, live := s.streams[st.local]
	delete(s.streams, st.local)
	s.mu.Unlock()
	st.shut()
	if live {
		_ = s.write(cmdCLSE, st.local, st.remote, nil)
	}
}

// send writes data to the host in chunks, one outstanding WRTE at a time.
func (s *session) send(st *stream, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), chunk)
		if err := s.write(cmdWRTE, st.local, st.remote, data[:n]); err != nil {
			return err
		}
		select {
		case <-st.acks:
		case <-st.done:
			return errors.New("stream closed")
		}
		data = data[n:]
	}
	return nil
}

func (s *session) open(remote uint32, svc string) {
	var output []byte
	var tcp net.Conn
	switch {
	case strings.HasPrefix(svc, "shell,v2,"):
		_, cmd, _ := strings.Cut(svc, ":")
		output = runV2(s.a.Phone, cmd)
	case strings.HasPrefix(svc, "shell:"):
		output = runPlain(s.a.Phone, strings.TrimPrefix(svc, "shell:"))
	case strings.HasPrefix(svc, "exec:"):
		output = runPlain(s.a.Phone, strings.TrimPrefix(svc, "exec:"))
	case strings.HasPrefix(svc, "tcp:"):
		port, err := strconv.Atoi(strings.TrimPrefix(svc, "tcp:"))
		if err == nil {
			tcp, err = s.a.Phone.DialTCP(port)
		}
		if err != nil {
			_ = s.write(cmdCLSE, 0, remote, nil)
			return
		}
	default:
		_ = s.write(cmdCLSE, 0, remote, nil)
		return
	}
	s.mu.Lock()
	s.nextID++
	st := &stream{local: s.nextID, remote: remote, acks: make(chan struct{}, 1), tcp: tcp, done: make(chan struct{})}
	s.streams[st.local] = st
	s.mu.Unlock()
	if s.write(cmdOKAY, st.local, remote, nil) != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.closeStream(st)
		if tcp == nil {
			_ = s.send(st, output)
			return
		}
		buf := make([]byte, chunk)
		for {
			n, err := tcp.Read(buf)
			if n > 0 && s.send(st, buf[:n]) != nil {
				return
			}
			if err != nil {
				return
			}
		}
	}()
}
