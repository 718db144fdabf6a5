package tpmkeys

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2"
)

// A key blob file holds what the TPM needs to reload one of our objects
// under the storage root: the public area and the private area, which the
// TPM encrypted and integrity-protected with a key only it holds. The file
// is useless without the TPM that wrote it. Layout (big endian):
//
//	magic   "KTPMBLOB"
//	format  u8   (blobFormat)
//	purpose u8   (purposeKEK, purposeSigner, purposePIN, purposeAK)
//	version u32  (KEK version; 0 otherwise)
//	pcrs    u32  (bit i = PCR i of the SHA-256 bank in the KEK's policy)
//	salt    u8 length + bytes (PIN salt; empty otherwise)
//	public  u16 length + TPMT_PUBLIC
//	private u16 length + TPM2B_PRIVATE contents
//	sum     32 bytes SHA-256 of everything above (corruption check only;
//	        integrity against tampering is the TPM's)
const blobMagic = "KTPMBLOB"

const blobFormat = 1

type purpose uint8

const (
	purposeKEK    purpose = 1
	purposeSigner purpose = 2
	purposePIN    purpose = 3
	purposeAK     purpose = 4
)

func (p purpose) String() string {
	switch p {
	case purposeKEK:
		return "KEK"
	case purposeSigner:
		return "signing key"
	case purposePIN:
		return "PIN object"
	case purposeAK:
		return "attestation key"
	}
	return fmt.Sprintf("purpose(%d)", uint8(p))
}

const (
	maxBlobPart = 2048
	maxSalt     = 32
	pcrMaskAll  = 1<<24 - 1
)

type keyBlob struct {
	purpose purpose
	version uint32
	pcrMask uint32
	salt    []byte
	public  []byte // TPMT_PUBLIC
	private []byte // TPM2B_PRIVATE contents
}

func (b *keyBlob) marshal() []byte {
	var buf bytes.Buffer
	buf.WriteString(blobMagic)
	buf.WriteByte(blobFormat)
	buf.WriteByte(byte(b.purpose))
	buf.Write(binary.BigEndian.AppendUint32(nil, b.version))
	buf.Write(binary.BigEndian.AppendUint32(nil, b.pcrMask))
	buf.WriteByte(byte(len(b.salt)))
	buf.Write(b.salt)
	buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b.public))))
	buf.Write(b.public)
	buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b.private))))
	buf.Write(b.private)
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return buf.Bytes()
}

// parseBlob decodes a key blob strictly: any deviation is ErrBadBlob.
func parseBlob(data []byte) (*keyBlob, error) {
	bad := func(what string) (*keyBlob, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadBlob, what)
	}
	const fixed = len(blobMagic) + 1 + 1 + 4 + 4
	if len(data) < fixed+1+2+2+sha256.Size {
		return bad("too short")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return bad("checksum mismatch (file corrupt or truncated)")
	}
	if string(body[:len(blobMagic)]) != blobMagic {
		return bad("not a key blob (magic)")
	}
	if body[8] != blobFormat {
		return bad(fmt.Sprintf("unknown format %d", body[8]))
	}
	b := &keyBlob{
		purpose: purpose(body[9]),
		version: binary.BigEndian.Uint32(body[10:14]),
		pcrMask: binary.BigEndian.Uint32(body[14:18]),
	}
	switch b.purpose {
	case purposeKEK:
		if b.version == 0 {
			return bad("KEK version 0")
		}
	case purposeSigner, purposePIN, purposeAK:
		if b.version != 0 || b.pcrMask != 0 {
			return bad("version or PCRs set on a non-KEK blob")
		}
	default:
		return bad(fmt.Sprintf("unknown purpose %d", body[9]))
	}
	if b.pcrMask&^pcrMaskAll != 0 {
		return bad("PCR mask beyond PCR 23")
	}
	rest := body[fixed:]
	n := int(rest[0])
	rest = rest[1:]
	if n > maxSalt || len(rest) < n {
		return bad("salt length")
	}
	if (b.purpose == purposePIN) != (n > 0) {
		return bad("salt present on a non-PIN blob, or missing on a PIN blob")
	}
	b.salt, rest = append([]byte(nil), rest[:n]...), rest[n:]
	var err error
	if b.public, rest, err = readPart(rest); err != nil {
		return bad("public area: " + err.Error())
	}
	if b.private, rest, err = readPart(rest); err != nil {
		return bad("private area: " + err.Error())
	}
	if len(rest) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(rest)))
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](b.public)
	if err != nil {
		return bad("public area does not decode: " + err.Error())
	}
	if !bytes.Equal(tpm2.Marshal(pub), b.public) {
		return bad("public area has trailing or non-canonical bytes")
	}
	want := tpm2.TPMAlgKeyedHash
	if b.purpose == purposeSigner || b.purpose == purposeAK {
		want = tpm2.TPMAlgECC
	}
	if pub.Type != want {
		return bad(fmt.Sprintf("public area type 0x%x for a %v", uint16(pub.Type), b.purpose))
	}
	return b, nil
}

func readPart(b []byte) (part, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("missing length")
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 || n > maxBlobPart || len(b)-2 < n {
		return nil, nil, fmt.Errorf("length %d out of range", n)
	}
	return append([]byte(nil), b[2:2+n]...), b[2+n:], nil
}

// pubArea decodes the blob's public area (validated by parseBlob).
func (b *keyBlob) pubArea() *tpm2.TPMTPublic {
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](b.public)
	if err != nil {
		panic("tpmkeys: public area of a parsed blob does not decode: " + err.Error())
	}
	return p
}

func readBlob(path string, want purpose) (*keyBlob, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := parseBlob(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if b.purpose != want {
		return nil, fmt.Errorf("reading %s: %w: holds a %v, want a %v", path, ErrBadBlob, b.purpose, want)
	}
	return b, nil
}

// writeFileAtomic writes data to path with mode 0600: a temporary file in
// the same directory, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
