package tpmkeys

import (
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"kiosk/internal/safelog"
)

// Default handles. The SRK handle is the one the TCG provisioning guidance
// gives the ECC P-256 storage root; the NV index is in the owner range.
const (
	DefaultSRKHandle tpm2.TPMHandle = 0x81000002
	DefaultNVIndex   tpm2.TPMHandle = 0x01804B31
)

// Epoch lengths. Each erase of an ended epoch is one NV write, so the
// length bounds the NV wear: one hour is at most 8,766 writes a year, the
// 15-minute floor at most 35,064.
const (
	DefaultEpochLength = time.Hour
	MinEpochLength     = 15 * time.Minute
)

// DAParams are the TPM's dictionary-attack parameters. They are global to
// the TPM: they govern every DA-protected object, ours and others'.
type DAParams struct {
	MaxTries        uint32        // failures before lockout; default 5
	RecoveryTime    time.Duration // one failure is forgotten per interval; default 10 min
	LockoutRecovery time.Duration // lockout-hierarchy recovery after a failed lockout auth; default 24 h
}

// Options configures Open. The zero value works: a hardware-unknown kind
// (reported as not secure), no PCR binding, one-hour epochs, default
// handles, DA parameters 5 tries / 10 min.
type Options struct {
	// Kind is what the transport reaches; it only labels Status. The zero
	// value is reported as software (not secure).
	Kind Kind
	// Logger receives progress and warnings; default discards.
	Logger *slog.Logger
	// Now is the clock used to tell which epochs have ended; default time.Now.
	Now func() time.Time
	// EpochLength is the retention epoch length; default DefaultEpochLength,
	// raised to MinEpochLength if shorter. The store must use the same.
	EpochLength time.Duration
	// PCRs binds newly sealed KEKs to these PCRs of the SHA-256 bank (0..23).
	// Empty means no binding. systemd-cryptenroll's usual choice is PCR 7
	// (Secure Boot state); see docs/tpm.md.
	PCRs []int
	// SRKHandle and NVIndex default to DefaultSRKHandle and DefaultNVIndex.
	SRKHandle tpm2.TPMHandle
	NVIndex   tpm2.TPMHandle
	// OwnerAuth is the owner hierarchy's authorisation (usually empty),
	// needed to persist the SRK and define the NV index.
	OwnerAuth []byte
	// DA is applied with TPM2_DictionaryAttackParameters at Open, if the TPM
	// lets us (its lockout authorisation is empty) and SkipDAConfig is false.
	DA           DAParams
	SkipDAConfig bool
	// MinPINLength is the shortest PIN SetPIN and ChangePIN accept; default 4.
	MinPINLength int
	// VolatileTPM says the TPM forgets its NV on every open (the in-process
	// simulator). When the ratchet index is missing, Open then defines a
	// new one instead of failing, which makes every record sealed by an
	// earlier process unreadable. Never set it for a real TPM.
	VolatileTPM bool
	// KeepForeignHandles stops Open from flushing transient objects and
	// sessions it finds loaded (leftovers of a crashed client on a TPM
	// without a resource manager, such as swtpm). Set it when other clients
	// share the TPM without a resource manager.
	KeepForeignHandles bool
	// Rand is the source of KEKs and salts; default crypto/rand.
	Rand io.Reader

	// EKCertIndex is the NV index of the endorsement key certificate that
	// attestation uses; 0 looks at EKCertIndexECCP256, EKCertIndexRSA2048,
	// then EKCertIndexECCP384. See attest.go and docs/evidence.md.
	EKCertIndex tpm2.TPMHandle
	// EndorsementAuth is the endorsement hierarchy's authorisation (usually
	// empty), needed to create the EK and to use it in credential activation.
	EndorsementAuth []byte
	// QuotePCRs are the PCRs of the SHA-256 bank that Quote covers; default
	// the KEK binding's PCRs, or PCR 7 (Secure Boot state) without one.
	QuotePCRs []int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = safelog.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EpochLength == 0 {
		o.EpochLength = DefaultEpochLength
	}
	if o.EpochLength < MinEpochLength {
		o.Logger.Warn("epoch length below the NV-wear floor; raised", "requested", o.EpochLength, "floor", MinEpochLength)
		o.EpochLength = MinEpochLength
	}
	o.EpochLength = o.EpochLength.Truncate(time.Second)
	if o.SRKHandle == 0 {
		o.SRKHandle = DefaultSRKHandle
	}
	if o.NVIndex == 0 {
		o.NVIndex = DefaultNVIndex
	}
	if o.DA.MaxTries == 0 {
		o.DA.MaxTries = 5
	}
	if o.DA.RecoveryTime == 0 {
		o.DA.RecoveryTime = 10 * time.Minute
	}
	if o.DA.LockoutRecovery == 0 {
		o.DA.LockoutRecovery = 24 * time.Hour
	}
	if o.MinPINLength == 0 {
		o.MinPINLength = 4
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

// Arena layout: fixed 32-byte slots in one locked page.
const (
	slotSize    = 32
	maxKEKs     = 32 // live KEK versions
	cacheSlots  = 64 // derived epoch keys
	baseSlot    = maxKEKs
	scratchSlot = maxKEKs + 1
	firstCache  = maxKEKs + 2
	arenaSize   = 4096
)

// Custody holds the kiosk's TPM-bound keys for one data directory. It
// implements the store's KeyProvider.
//
// Lifetime: Open loads the SRK, unseals every KEK once into locked memory,
// loads the signing key and reads the ratchet NV index once. Close flushes
// the signing key from the TPM and zeroes every key in memory; the caller
// still owns, and closes, the transport. After Close every method fails
// with ErrClosed.
//
// Concurrency: all methods are safe for concurrent use; TPM commands are
// serialised. KEK and EpochKey never talk to the TPM.
type Custody struct {
	mu      sync.Mutex
	clockMu sync.Mutex // guards opts.Now (SetClock)
	tpm     transport.TPM
	opts    Options
	dir     string
	log     *slog.Logger

	srk    tpm2.NamedHandle
	srkPub tpm2.TPMTPublic

	arena   []byte
	locked  bool
	release func()

	keks    map[uint32]int    // version -> slot
	kekPCRs map[uint32]uint32 // version -> PCR mask
	// sealedAway lists older KEK versions whose PCR policy failed at Open.
	sealedAway []uint32
	current    uint32

	signer    tpm2.NamedHandle
	signerPub *ecdsa.PublicKey
	keyID     string

	nvIndex  tpm2.TPMHandle
	oldest   uint64
	cache    map[uint64]int // epoch -> slot
	cacheUse map[uint64]uint64
	useClock uint64
	nvWrites int

	daConfigured bool
	closed       bool

	att attestState // attestation cache (attest.go)
}

// Open takes custody of the keys in dir (created 0700 if missing) on the
// TPM reached through t. On a fresh directory it provisions everything:
// the persistent SRK if absent, the ratchet NV index (adopted if it
// exists), the signing key and KEK version 1. On a provisioned directory it
// reloads and unseals; any blob the TPM rejects fails closed (ErrWrongTPM,
// ErrPCRPolicy, ErrRatchetMissing). The caller keeps ownership of t.
func Open(t transport.TPM, dir string, opts Options) (*Custody, error) {
	o := opts.withDefaults()
	for _, p := range o.PCRs {
		if p < 0 || p > 23 {
			return nil, fmt.Errorf("tpmkeys: PCR %d out of range 0..23", p)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	}
	arena, locked, release, err := lockedAlloc(arenaSize)
	if err != nil {
		return nil, fmt.Errorf("allocating key memory: %w", err)
	}
	c := &Custody{
		tpm: retryTPM{t: t, sleep: time.Sleep}, opts: o, dir: dir, log: o.Logger,
		arena: arena, locked: locked, release: release,
		keks: map[uint32]int{}, kekPCRs: map[uint32]uint32{},
		nvIndex: o.NVIndex, cache: map[uint64]int{}, cacheUse: map[uint64]uint64{},
	}
	if !locked {
		c.log.Warn("could not mlock key memory (raise RLIMIT_MEMLOCK); keys may be swapped to disk")
	}
	if err := c.open(); err != nil {
		c.closeLocked()
		return nil, err
	}
	return c, nil
}

func (c *Custody) open() error {
	if !c.opts.KeepForeignHandles {
		if n, err := flushTransients(c.tpm); err != nil {
			return fmt.Errorf("flushing leftover TPM handles: %w", err)
		} else if n > 0 {
			c.log.Warn("flushed leftover TPM handles from an earlier client", "handle_count", n)
		}
	}
	if err := c.ensureSRK(); err != nil {
		return err
	}
	versions, err := c.kekVersions()
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return c.provision()
	}
	// The newest version is the current one and must unseal. An older one
	// bound to PCRs that have since changed is set aside, not fatal: that
	// is how a planned boot-chain change works (rotate to a KEK without
	// that binding first, then change the boot chain). Records under the
	// old version stay sealed, unreadable, until their retention ends; the
	// policy can still be satisfied again by booting the old state.
	newest := slices.Max(versions)
	for _, v := range versions {
		err := c.loadKEK(v)
		if err != nil && v != newest && errors.Is(err, ErrPCRPolicy) {
			c.sealedAway = append(c.sealedAway, v)
			c.log.Warn("an older KEK is sealed to PCR values this boot does not have; records under it stay unreadable until they expire",
				"kek_version", v, "err", err.Error())
			continue
		}
		if err != nil {
			return err
		}
	}
	if err := c.loadSigner(); err != nil {
		return err
	}
	if err := c.loadRatchet(); err != nil {
		return err
	}
	c.configureDA()
	return nil
}

// provision creates every object of a fresh key directory. The KEK is
// written last, so an interrupted provisioning simply runs again.
func (c *Custody) provision() error {
	c.log.Info("provisioning TPM key custody", "dir_path", c.dir)
	if err := c.loadRatchet(); err != nil {
		if !errors.Is(err, ErrRatchetMissing) && !errors.Is(err, errNVUnwritten) {
			return err
		}
		if err := c.defineRatchet(); err != nil {
			return err
		}
	} else {
		c.log.Info("adopted the existing erase-ratchet NV index", "nv_handle", fmt.Sprintf("0x%08x", uint32(c.nvIndex)), "oldest_epoch", c.oldest)
	}
	if err := c.createSigner(); err != nil {
		return err
	}
	if err := c.loadSigner(); err != nil {
		return err
	}
	if _, err := c.sealNewKEK(1); err != nil {
		return err
	}
	c.configureDA()
	return nil
}

// Dir is the key-blob directory.
func (c *Custody) Dir() string { return c.dir }

// Kind is the kind of TPM given in Options.
func (c *Custody) Kind() Kind { return c.opts.Kind }

// EpochLength is the effective retention epoch length (after the floor).
// The store must use the same length.
func (c *Custody) EpochLength() time.Duration { return c.opts.EpochLength }

// Close flushes the signing key and zeroes all key memory. It does not
// close the transport. Calling Close twice is harmless.
func (c *Custody) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *Custody) closeLocked() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var err error
	if c.signer.Handle != 0 {
		err = flush(c.tpm, c.signer.Handle)
		c.signer = tpm2.NamedHandle{}
	}
	// Zero, but keep the mapping: a KEK slice a caller is still reading
	// turns into zeros, never into a crash.
	clear(c.arena)
	c.keks, c.cache = map[uint32]int{}, map[uint64]int{}
	return err
}

func (c *Custody) slot(i int) []byte { return c.arena[i*slotSize : (i+1)*slotSize : (i+1)*slotSize] }

// ensureSRK makes sure our ECC P-256 storage root is persistent at the SRK
// handle: reuse it if the handle holds the standard ECC SRK, create and
// persist it if the handle is empty, fail with ErrHandleInUse otherwise.
func (c *Custody) ensureSRK() error {
	h := c.opts.SRKHandle
	rp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(c.tpm)
	if err == nil {
		pub, err := rp.OutPublic.Contents()
		if err != nil {
			return fmt.Errorf("decoding SRK public area at 0x%08x: %w", uint32(h), err)
		}
		if !sameSRK(pub) {
			return fmt.Errorf("%w: 0x%08x is not an ECC P-256 storage root; choose another SRK handle", ErrHandleInUse, uint32(h))
		}
		c.srk, c.srkPub = tpm2.NamedHandle{Handle: h, Name: rp.Name}, *pub
		return nil
	}
	if !errors.Is(err, tpm2.TPMRCHandle) {
		return fmt.Errorf("reading SRK at 0x%08x: %w", uint32(h), err)
	}
	start := time.Now()
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(c.opts.OwnerAuth)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(c.tpm)
	if err != nil {
		return fmt.Errorf("creating the ECC storage root under the owner hierarchy: %w", err)
	}
	defer flush(c.tpm, cp.ObjectHandle)
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(c.opts.OwnerAuth)},
		ObjectHandle:     tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: h,
	}.Execute(c.tpm)
	if err != nil {
		return fmt.Errorf("persisting the storage root at 0x%08x: %w", uint32(h), err)
	}
	pub, err := cp.OutPublic.Contents()
	if err != nil {
		return err
	}
	c.srk, c.srkPub = tpm2.NamedHandle{Handle: h, Name: cp.Name}, *pub
	c.log.Info("created and persisted the storage root", "srk_handle", fmt.Sprintf("0x%08x", uint32(h)), "ms", time.Since(start).Milliseconds())
	return nil
}

func sameSRK(p *tpm2.TPMTPublic) bool {
	want := tpm2.ECCSRKTemplate
	if p.Type != want.Type || p.NameAlg != want.NameAlg || p.ObjectAttributes != want.ObjectAttributes {
		return false
	}
	d, err := p.Parameters.ECCDetail()
	if err != nil {
		return false
	}
	return d.CurveID == tpm2.TPMECCNistP256 && d.Symmetric.Algorithm == tpm2.TPMAlgAES
}

// sessIn and sessOut are one-shot HMAC sessions salted to the SRK, with
// AES-128-CFB parameter encryption of the command's (In) or the response's
// (Out) first parameter: secrets never cross the bus in clear, and a sniffed
// transcript cannot be used to guess an auth value offline.
func (c *Custody) sessIn(auth []byte) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Auth(auth),
		tpm2.Salted(c.srk.Handle, c.srkPub), tpm2.AESEncryption(128, tpm2.EncryptIn))
}

func (c *Custody) sessOut(auth []byte) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Auth(auth),
		tpm2.Salted(c.srk.Handle, c.srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut))
}

// load loads a blob under the SRK. The caller flushes the handle.
func (c *Custody) load(b *keyBlob) (tpm2.NamedHandle, error) {
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    tpm2.TPM2BPrivate{Buffer: b.private},
		InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](b.public),
	}.Execute(c.tpm)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCIntegrity) || errors.Is(err, tpm2.TPMRCValue) || errors.Is(err, tpm2.TPMRCSize) {
			return tpm2.NamedHandle{}, fmt.Errorf("loading the %v: %w (%v)", b.purpose, ErrWrongTPM, err)
		}
		return tpm2.NamedHandle{}, fmt.Errorf("loading the %v: %w", b.purpose, err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, nil
}

func flush(t transport.TPM, h tpm2.TPMHandle) error {
	_, err := tpm2.FlushContext{FlushHandle: h}.Execute(t)
	return err
}

// Handle ranges listed by GetCapability(TPM_CAP_HANDLES).
const (
	htTransient     = 0x80000000
	htLoadedSession = 0x02000000
	htSavedSession  = 0x03000000
)

// loadedHandles lists the handles the TPM holds in one range.
func loadedHandles(t transport.TPM, first uint32) ([]tpm2.TPMHandle, error) {
	var out []tpm2.TPMHandle
	for {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: first, PropertyCount: 64}.Execute(t)
		if err != nil {
			return nil, err
		}
		hs, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return nil, err
		}
		for _, h := range hs.Handle {
			if uint32(h)&0xFF000000 != first&0xFF000000 {
				return out, nil
			}
			out = append(out, h)
		}
		if !rsp.MoreData || len(hs.Handle) == 0 {
			return out, nil
		}
		first = uint32(hs.Handle[len(hs.Handle)-1]) + 1
	}
}

// LoadedHandles returns the transient objects and sessions the TPM holds.
// On a TPM without a resource manager (swtpm, the simulator) that is every
// client's; through /dev/tpmrm0 only this connection's. Tests use it to
// prove nothing leaks.
func LoadedHandles(t transport.TPM) ([]tpm2.TPMHandle, error) {
	var all []tpm2.TPMHandle
	for _, r := range []uint32{htTransient, htLoadedSession, htSavedSession} {
		hs, err := loadedHandles(t, r)
		if err != nil {
			return nil, fmt.Errorf("listing TPM handles from 0x%08x: %w", r, err)
		}
		all = append(all, hs...)
	}
	return all, nil
}

func flushTransients(t transport.TPM) (int, error) {
	hs, err := LoadedHandles(t)
	if err != nil {
		return 0, err
	}
	for _, h := range hs {
		if err := flush(t, h); err != nil {
			return 0, fmt.Errorf("flushing 0x%08x: %w", uint32(h), err)
		}
	}
	return len(hs), nil
}

var kekFile = regexp.MustCompile(`^kek-v([0-9]{1,10})\.blob$`)

func kekPath(dir string, v uint32) string {
	return filepath.Join(dir, fmt.Sprintf("kek-v%d.blob", v))
}

// kekVersions lists KEK versions with a blob in the directory, ascending.
func (c *Custody) kekVersions() ([]uint32, error) {
	ents, err := os.ReadDir(c.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var vs []uint32
	for _, e := range ents {
		m := kekFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || v == 0 {
			continue
		}
		vs = append(vs, uint32(v))
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs, nil
}
