package store

import (
	"encoding/binary"
	"errors"
)

// A sealed column that holds several values (details, personal) carries
// them as a strict TLV list: tag(1) | length(uvarint) | value, tags strictly
// ascending, each from the column's allowed set, no trailing bytes.

var errFields = errors.New("store: malformed field list")

type field struct {
	tag byte
	val []byte
}

func appendFields(dst []byte, fs ...field) []byte {
	for _, f := range fs {
		dst = append(dst, f.tag)
		dst = binary.AppendUvarint(dst, uint64(len(f.val)))
		dst = append(dst, f.val...)
	}
	return dst
}

// decodeFields parses b into out, indexed by tag (out must have len >
// max allowed tag). Values alias b.
func decodeFields(b []byte, maxTag byte, out [][]byte) error {
	last := -1
	for len(b) > 0 {
		tag := b[0]
		if int(tag) <= last || tag == 0 || tag > maxTag || int(tag) >= len(out) {
			return errFields
		}
		last = int(tag)
		n, k := binary.Uvarint(b[1:])
		// Reject overlong (non-minimal) lengths so each list has one encoding.
		if k <= 0 || n > uint64(len(b)-1-k) || k != len(binary.AppendUvarint(nil, n)) {
			return errFields
		}
		out[tag] = b[1+k : 1+k+int(n)]
		b = b[1+k+int(n):]
	}
	return nil
}
