package tpmkeys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// trickleConn answers each written command with a canned response,
// delivered n bytes per Read, like TCP splitting a response.
type trickleConn struct {
	rsp    []byte
	out    bytes.Buffer
	n      int
	closed bool
}

func (c *trickleConn) Write(p []byte) (int, error) { c.out.Write(c.rsp); return len(p), nil }
func (c *trickleConn) Read(p []byte) (int, error) {
	if c.out.Len() == 0 {
		return 0, io.EOF
	}
	return c.out.Read(p[:min(len(p), c.n)])
}
func (c *trickleConn) Close() error { c.closed = true; return nil }

func frame(rc uint32, body []byte) []byte {
	b := make([]byte, 10, 10+len(body))
	binary.BigEndian.PutUint16(b, 0x8001)
	binary.BigEndian.PutUint32(b[2:], uint32(10+len(body)))
	binary.BigEndian.PutUint32(b[6:], rc)
	return append(b, body...)
}

func TestStreamTransport(t *testing.T) {
	body := bytes.Repeat([]byte{0xC3}, 1000)
	for _, tc := range []struct {
		name    string
		rsp     []byte
		n       int
		wantErr bool
	}{
		{"whole", frame(0, body), 4096, false},
		{"one byte at a time", frame(0, body), 1, false},
		{"split header", frame(0, body), 7, false},
		{"header only", frame(0, nil), 3, false},
		{"truncated body", frame(0, body)[:500], 64, true},
		{"length below header", append(frame(0, nil)[:2], 0, 0, 0, 4, 0, 0, 0, 0), 64, true},
		{"length too big", append(frame(0, nil)[:2], 0x7f, 0, 0, 0, 0, 0, 0, 0), 64, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &trickleConn{rsp: tc.rsp, n: tc.n}
			tr := NewStreamTransport(conn)
			got, err := tr.Send([]byte{0x80, 1, 0, 0, 0, 10, 0, 0, 1, 0x7a})
			if tc.wantErr {
				if err == nil {
					t.Errorf("Send = %d bytes, nil; want an error", len(got))
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.rsp) {
				t.Errorf("Send = %d bytes, %v; want the %d-byte response", len(got), err, len(tc.rsp))
			}
			tr.Close()
			if !conn.closed {
				t.Errorf("Close did not close the connection")
			}
		})
	}
}

type scriptTPM struct {
	rsps [][]byte
	sent int
}

func (s *scriptTPM) Send([]byte) ([]byte, error) {
	if s.sent >= len(s.rsps) {
		return nil, errors.New("script exhausted")
	}
	s.sent++
	return s.rsps[s.sent-1], nil
}

func TestRetryTPM(t *testing.T) {
	ok := frame(0, []byte{1})
	for _, tc := range []struct {
		name     string
		rsps     [][]byte
		wantSent int
		wantRC   uint32
	}{
		{"no retry", [][]byte{ok}, 1, 0},
		{"retry once after restart", [][]byte{frame(rcRetry, nil), ok}, 2, 0},
		{"testing then yielded", [][]byte{frame(rcTesting, nil), frame(rcYielded, nil), ok}, 3, 0},
		{"other error is final", [][]byte{frame(0x98e, nil), ok}, 1, 0x98e},
		{"gives up", [][]byte{frame(rcRetry, nil), frame(rcRetry, nil), frame(rcRetry, nil), frame(rcRetry, nil),
			frame(rcRetry, nil), frame(rcRetry, nil), frame(rcRetry, nil), frame(rcRetry, nil), frame(rcRetry, nil), ok}, 9, rcRetry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scriptTPM{rsps: tc.rsps}
			var slept time.Duration
			r := retryTPM{t: s, sleep: func(d time.Duration) { slept += d }}
			got, err := r.Send([]byte{0})
			if err != nil {
				t.Fatalf("Send = %v", err)
			}
			if rc := binary.BigEndian.Uint32(got[6:]); rc != tc.wantRC || s.sent != tc.wantSent {
				t.Errorf("Send: rc 0x%x after %d sends; want 0x%x after %d", rc, s.sent, tc.wantRC, tc.wantSent)
			}
		})
	}
}
