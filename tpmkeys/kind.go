package tpmkeys

// Kind says what kind of TPM a transport reaches. Only KindHardware keeps
// keys out of reach of someone who copies the disk: a software TPM keeps its
// seeds and NV in files (swtpm) or process memory (the simulator).
type Kind int

const (
	// KindHardware is a TPM chip reached through the kernel (/dev/tpmrm0).
	KindHardware Kind = iota + 1
	// KindSWTPM is an swtpm process; its state directory holds every seed.
	KindSWTPM
	// KindSimulator is the in-process reference simulator; its state lives
	// in process memory and its seeds come from a file.
	KindSimulator
)

// Secure reports whether the kind protects keys against a copy of the disk.
func (k Kind) Secure() bool { return k == KindHardware }

// String is the label doctor, the UI and the evidence show. Every software
// kind starts with "software TPM: not secure".
func (k Kind) String() string {
	switch k {
	case KindHardware:
		return "hardware TPM"
	case KindSWTPM:
		return "software TPM: not secure (swtpm)"
	case KindSimulator:
		return "software TPM: not secure (in-process simulator)"
	default:
		return "software TPM: not secure (unknown kind)"
	}
}

// MarshalText makes Kind encode as its label in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
