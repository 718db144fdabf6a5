package tpmkeys

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// maxResponse bounds a TPM response frame; real responses are under 4 KiB.
const maxResponse = 1 << 16

// commandTimeout bounds one command on a network transport. Real chips take
// up to a few seconds for a primary key; swtpm takes milliseconds.
const commandTimeout = 2 * time.Minute

// NewStreamTransport returns a transport that sends raw TPM 2.0 command
// frames over conn and reads each response by its header length: the
// 10-byte header first, then exactly the rest with io.ReadFull, since a
// stream may deliver a response in pieces. This is what swtpm's --server
// port speaks (not the Microsoft simulator protocol of go-tpm's transport/tcp).
//
// Send is safe for concurrent use (commands are serialised). Close closes conn.
func NewStreamTransport(conn io.ReadWriteCloser) transport.TPMCloser {
	return &streamTPM{conn: conn}
}

// DialSWTPM connects to an swtpm server port (HOST:PORT) and returns a
// stream transport over it.
func DialSWTPM(ctx context.Context, addr string) (transport.TPMCloser, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to swtpm at %s: %w", addr, err)
	}
	return NewStreamTransport(c), nil
}

type streamTPM struct {
	mu   sync.Mutex
	conn io.ReadWriteCloser
}

func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc, ok := s.conn.(net.Conn); ok {
		_ = nc.SetDeadline(time.Now().Add(commandTimeout))
	}
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("sending TPM command: %w", err)
	}
	var hdr [10]byte
	if _, err := io.ReadFull(s.conn, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading TPM response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("TPM response header gives length %d; want 10..%d", size, maxResponse)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(s.conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("reading TPM response body (%d bytes): %w", size, err)
	}
	return rsp, nil
}

func (s *streamTPM) Close() error { return s.conn.Close() }

// Response codes that mean "send the same command again".
const (
	rcRetry   = 0x922 // TPM_RC_RETRY: seen once after an swtpm restart
	rcYielded = 0x908 // TPM_RC_YIELDED
	rcTesting = 0x90A // TPM_RC_TESTING: self-test still running
)

// retryTPM resends a command the TPM asked to be retried. It does not
// retry anything that the TPM processed.
type retryTPM struct {
	t     transport.TPM
	sleep func(time.Duration)
}

func (r retryTPM) Send(cmd []byte) ([]byte, error) {
	for i := 0; ; i++ {
		rsp, err := r.t.Send(cmd)
		if err != nil || len(rsp) < 10 || i >= 8 {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcRetry, rcYielded, rcTesting:
			if i > 0 {
				r.sleep(time.Duration(i) * 10 * time.Millisecond)
			}
			continue
		}
		return rsp, nil
	}
}

// legacyRW adapts a transport.TPM to the io.ReadWriter that go-tpm's
// legacy/tpm2 package expects (for the dictionary-attack commands the
// direct API lacks). Write sends the command; Read hands back the whole
// response in one call, without the early io.EOF of transport.ToReadWriter.
type legacyRW struct {
	t    transport.TPM
	rsp  []byte
	sent bool
}

func (l *legacyRW) Write(p []byte) (int, error) {
	rsp, err := l.t.Send(p)
	if err != nil {
		return 0, err
	}
	l.rsp, l.sent = rsp, true
	return len(p), nil
}

func (l *legacyRW) Read(p []byte) (int, error) {
	if !l.sent {
		return 0, errors.New("tpmkeys: read before write on legacy adapter")
	}
	if len(l.rsp) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.rsp)
	l.rsp = l.rsp[n:]
	return n, nil
}

// Shutdown sends TPM2_Shutdown(CLEAR): the orderly end of a TPM session.
// Send it before stopping a software TPM you started. A TPM that restarts
// without it counts the restart as a dictionary-attack failure (a power
// cut could hide an attack), so every unclean swtpm stop costs a PIN try.
// Never send it to a shared TPM that others still use.
func Shutdown(t transport.TPM) error {
	_, err := tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_Shutdown: %w", err)
	}
	return nil
}
