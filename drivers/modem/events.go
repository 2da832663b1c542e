package modem

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"smsgw/daemon/logging"
	"smsgw/drivers"
	"smsgw/drivers/modem/at"
	"smsgw/drivers/modem/pdu"
)

// handleURCs reads the unsolicited results of c in order until it ends.
func (d *Driver) handleURCs(c *at.Conn) {
	defer d.wg.Done()
	for u := range c.URCs() {
		switch {
		case strings.HasPrefix(u.Line, "+CMTI:"), strings.HasPrefix(u.Line, "+CDSI:"):
			mem, idx, err := at.ParseIndex(u.Line)
			if err != nil {
				d.log.Warn("modem: unreadable indication", "err", err)
				continue
			}
			d.readStored(c, mem, idx)
		case strings.HasPrefix(u.Line, "+CMT:"), strings.HasPrefix(u.Line, "+CDS:"):
			n, err := at.ParsePDULength(u.Line)
			if err != nil || u.PDU == "" {
				d.log.Warn("modem: routed message without a readable PDU", "err", err)
				continue
			}
			d.received(u.PDU, n)
		case strings.HasPrefix(u.Line, "+CREG:"), strings.HasPrefix(u.Line, "+CGREG:"), strings.HasPrefix(u.Line, "+CEREG:"):
			if r, err := at.ParseRegistration(u.Line); err == nil && r.Registered() {
				d.mu.Lock()
				d.status.reg, d.status.regKnown = r, true
				d.mu.Unlock()
			}
		default:
			d.log.Debug("modem: unsolicited", "line", u.Line)
		}
	}
}

// readStored reads message idx from storage, handles it and deletes it.
func (d *Driver) readStored(c *at.Conn, mem string, idx int) {
	ctx, cancel := context.WithTimeout(d.ctx, 4*d.opts.CommandTimeout)
	defer cancel()
	if mem != "" {
		// Select the storage the indication names for reading; a modem
		// that refuses keeps its default.
		_, _ = c.Command(ctx, fmt.Sprintf(`+CPMS="%s"`, mem), d.opts.CommandTimeout)
	}
	info, err := c.Command(ctx, "+CMGR="+strconv.Itoa(idx), d.opts.CommandTimeout)
	if err != nil {
		d.log.Warn("modem: cannot read stored message", "index", idx, "err", err)
		return
	}
	for i := 0; i+1 < len(info); i++ {
		if !strings.HasPrefix(info[i], "+CMGR:") {
			continue
		}
		n, err := at.ParsePDULength(info[i])
		if err != nil {
			d.log.Warn("modem: unreadable +CMGR header", "err", err)
			continue
		}
		d.received(info[i+1], n)
	}
	if _, err := c.Command(ctx, "+CMGD="+strconv.Itoa(idx), 3*d.opts.CommandTimeout); err != nil {
		d.log.Warn("modem: cannot delete stored message", "index", idx, "err", err)
	}
}

// readAllStored lists every message in storage (AT+CMGL=4: PDU mode, all
// of them), handles each as the +CMTI path does and deletes it. A modem
// that refuses the list keeps its messages; bring-up goes on.
func (d *Driver) readAllStored(ctx context.Context, c *at.Conn) {
	info, err := c.Command(ctx, "+CMGL=4", 4*d.opts.CommandTimeout)
	if err != nil {
		d.log.Warn("modem: cannot list stored messages", "err", err)
		return
	}
	var indexes []int
	for i := 0; i < len(info); i++ {
		if !strings.HasPrefix(info[i], "+CMGL:") {
			continue
		}
		idx, err := listIndex(info[i])
		if err != nil {
			d.log.Warn("modem: unreadable +CMGL header", "err", err)
			continue
		}
		indexes = append(indexes, idx)
		if i+1 >= len(info) || strings.HasPrefix(info[i+1], "+CMGL:") {
			d.log.Warn("modem: stored message without a PDU", "index", idx)
			continue
		}
		i++
		n, err := at.ParsePDULength(info[i-1])
		if err != nil {
			d.log.Warn("modem: unreadable +CMGL header", "err", err)
			continue
		}
		d.received(info[i], n)
	}
	for _, idx := range indexes {
		if _, err := c.Command(ctx, "+CMGD="+strconv.Itoa(idx), 3*d.opts.CommandTimeout); err != nil {
			d.log.Warn("modem: cannot delete stored message", "index", idx, "err", err)
		}
	}
}

// listIndex reads the index of a "+CMGL: <index>,<stat>,[<alpha>],<length>"
// line.
func listIndex(line string) (int, error) {
	rest := strings.TrimSpace(strings.TrimPrefix(line, "+CMGL:"))
	if i := strings.IndexByte(rest, ','); i >= 0 {
		rest = rest[:i]
	}
	idx, err := strconv.Atoi(strings.TrimSpace(rest))
	if err != nil || idx < 0 {
		return 0, fmt.Errorf("bad index in %q", line)
	}
	return idx, nil
}

// received decodes a PDU from the network and reports it.
func (d *Driver) received(hexPDU string, n int) {
	m, err := pdu.Decode(hexPDU, n)
	if err != nil {
		d.log.Warn("modem: undecodable PDU", "err", err)
		return
	}
	switch v := m.(type) {
	case pdu.Deliver:
		d.inboundPart(v)
	case pdu.StatusReport:
		d.statusReport(v, time.Now())
	}
}

// inboundPart reports a message, or collects a part until all came.
func (d *Driver) inboundPart(m pdu.Deliver) {
	text := m.Text
	if m.Concat != nil && m.Concat.Total > 1 {
		key := m.From + "/" + strconv.Itoa(int(m.Concat.Ref))
		d.mu.Lock()
		for k, p := range d.inbound {
			if time.Since(p.started) > time.Hour {
				delete(d.inbound, k)
			}
		}
		p, ok := d.inbound[key]
		if !ok {
			p = &partial{parts: make(map[int]string), total: m.Concat.Total, started: time.Now()}
			d.inbound[key] = p
		}
		p.parts[m.Concat.Seq] = m.Text
		if len(p.parts) < p.total {
			d.mu.Unlock()
			return
		}
		var b strings.Builder
		for i := 1; i <= p.total; i++ {
			b.WriteString(p.parts[i])
		}
		delete(d.inbound, key)
		d.mu.Unlock()
		text = b.String()
	}
	sentAt := m.SentAt
	if sentAt.IsZero() {
		sentAt = time.Now()
	}
	d.log.Info("modem: message received", "from", logging.Phone(m.From))
	d.emit(drivers.Event{Kind: drivers.EventInbound, From: m.From, Text: text, At: sentAt})
}

// sameNumber compares two numbers by their last nine digits, since a
// report may give the recipient in national form.
func sameNumber(a, b string) bool {
	digits := func(s string) string {
		s = strings.TrimPrefix(s, "+")
		if len(s) > 9 {
			s = s[len(s)-9:]
		}
		return s
	}
	return a != "" && digits(a) == digits(b)
}

// early is a status report that arrived before the driver recorded the
// send it reports on: a fast network can beat the +CMGS answer.
type early struct {
	r  pdu.StatusReport
	at time.Time
}

// maxEarly bounds the reports kept while waiting for their send.
const maxEarly = 64

// maxEarlyAge is how long a report that matched no send is kept: one that
// beats its +CMGS answer comes within seconds, and an older one (say, for a
// message of a previous run) must not be taken for a new send that happens
// to get the same reference.
const maxEarlyAge = time.Minute

// pruneEarly drops the early reports older than maxEarlyAge. d.mu must be
// held.
func (d *Driver) pruneEarly(now time.Time) {
	kept := d.early[:0]
	for _, e := range d.early {
		if now.Sub(e.at) <= maxEarlyAge {
			kept = append(kept, e)
		}
	}
	clear(d.early[len(kept):])
	d.early = kept
}

// expectReport records that part p, sent with reference mr, waits for a
// status report, and applies one that already came: only a report that
// arrived after the part was handed to the modem (handedAt) and is at most
// maxEarlyAge old.
func (d *Driver) expectReport(p *partReport, mr byte, handedAt time.Time) {
	now := time.Now()
	d.mu.Lock()
	d.reports[mr] = append(d.reports[mr], p)
	d.pruneEarly(now)
	var due []early
	kept := d.early[:0]
	for _, e := range d.early {
		if e.r.MR == mr && sameNumber(p.to, e.r.Recipient) && !e.at.Before(handedAt) {
			due = append(due, e)
			continue
		}
		kept = append(kept, e)
	}
	clear(d.early[len(kept):])
	d.early = kept
	d.mu.Unlock()
	for _, e := range due {
		d.statusReport(e.r, time.Now())
	}
}

// statusReport matches r to a sent part by message reference, recipient
// and time window, and reports the message once every part is final.
func (d *Driver) statusReport(r pdu.StatusReport, now time.Time) {
	outcome := r.Outcome()
	d.mu.Lock()
	defer d.mu.Unlock()
	waiting := d.reports[r.MR]
	match := -1
	for i, p := range waiting {
		if now.Sub(p.sentAt) > d.opts.ReportWindow {
			continue
		}
		if sameNumber(p.to, r.Recipient) {
			match = i // the latest matching send wins: references wrap at 256
		}
	}
	// Forget reports nobody will match any more.
	kept := waiting[:0]
	for i, p := range waiting {
		if (i == match && outcome != pdu.Pending) || now.Sub(p.sentAt) > d.opts.ReportWindow {
			continue
		}
		kept = append(kept, p)
	}
	var p *partReport
	if match >= 0 {
		p = waiting[match]
	}
	if len(kept) == 0 {
		delete(d.reports, r.MR)
	} else {
		d.reports[r.MR] = kept
	}
	if p == nil {
		d.log.Info("modem: status report matches no message yet", "mr", r.MR)
		d.pruneEarly(now)
		if len(d.early) >= maxEarly {
			d.early = d.early[1:]
		}
		d.early = append(d.early, early{r: r, at: now})
		return
	}
	if outcome == pdu.Pending {
		return
	}
	rec := d.records[p.id]
	if rec == nil || p.part >= len(rec.done) || rec.state == drivers.SendFailed {
		return
	}
	rec.done[p.part] = true
	if outcome == pdu.Failed {
		rec.state = drivers.SendFailed
		rec.failed = fmt.Sprintf("tp_st_%#02x", r.Status)
		if len(rec.refs) < rec.parts {
			rec.heldFailure = true
			return
		}
		d.emit(drivers.Event{Kind: drivers.EventDelivery, ID: p.id, Ref: d.receipt(rec).Ref, Delivered: false, Reason: rec.failed})
		return
	}
	for _, ok := range rec.done {
		if !ok {
			return
		}
	}
	rec.state = drivers.SendDelivered
	d.emit(drivers.Event{Kind: drivers.EventDelivery, ID: p.id, Ref: d.receipt(rec).Ref, Delivered: true})
}
