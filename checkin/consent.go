package checkin

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Lang is a visitor language, as a BCP 47 base tag ("en", "de").
type Lang string

// The languages every visitor screen and the consent notice are complete
// in. The first is the default.
const (
	English Lang = "en"
	German  Lang = "de"
	French  Lang = "fr"
	Spanish Lang = "es"
)

// Languages lists the supported visitor languages in the order the idle
// screen offers them.
var Languages = []Lang{English, German, French, Spanish}

// ParseLang accepts a supported language tag ("de", "de-AT", "DE").
func ParseLang(s string) (Lang, error) {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "-")
	base, _, _ = strings.Cut(base, "_")
	for _, l := range Languages {
		if string(l) == base {
			return l, nil
		}
	}
	return "", fmt.Errorf("language %q is not supported: want one of %v", s, Languages)
}

// NoticeKeep is the placeholder a notice body must hold exactly once: the
// kiosk puts its real retention there ("kept for 24 hours, then erased",
// or "nothing is kept"), so a notice can never state a period the kiosk
// does not run.
const NoticeKeep = "{keep}"

// Notice limits: a notice is read standing at a desk.
const (
	MaxNoticeBytes = 16 << 10 // the whole file
	MaxNoticeTitle = 80       // characters
	MaxNoticeBody  = 1500     // characters, per language
)

// NoticeText is one language's notice.
type NoticeText struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Notice is the privacy notice a visitor agrees to before any frame is
// analysed: what is captured, why, for how long and whom to ask, in every
// visitor language. It is the deployment's (an operator may replace the
// built-in one with a file) and is identified by the SHA-256 of its file,
// which goes into every sealed record with the time of consent.
type Notice struct {
	texts  map[Lang]NoticeText
	digest [32]byte
}

//go:embed notice/default.json
var defaultNotice []byte

// DefaultNotice is the built-in notice.
func DefaultNotice() *Notice {
	n, err := ParseNotice(defaultNotice)
	if err != nil {
		panic("checkin: the built-in notice is invalid: " + err.Error())
	}
	return n
}

// ErrBadNotice wraps every reason a notice file is refused.
var ErrBadNotice = errors.New("the privacy notice is not usable")

// ParseNotice validates a notice file: JSON mapping each supported
// language to a title and a body, nothing else; every language present
// (a visitor screen never falls back to another language); the {keep}
// placeholder once in each body; plain printable text within the length
// caps.
func ParseNotice(b []byte) (*Notice, error) {
	bad := func(format string, a ...any) (*Notice, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrBadNotice}, a...)...)
	}
	if len(b) > MaxNoticeBytes {
		return bad("the file is %d bytes; the limit is %d", len(b), MaxNoticeBytes)
	}
	if !utf8.Valid(b) {
		return bad("the file is not UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw map[string]NoticeText
	if err := dec.Decode(&raw); err != nil {
		return bad("want a JSON object of languages, each with a title and a body: %v", err)
	}
	if dec.More() {
		return bad("trailing data after the JSON object")
	}
	n := &Notice{texts: map[Lang]NoticeText{}, digest: sha256.Sum256(b)}
	for k, t := range raw {
		l, err := ParseLang(k)
		if err != nil || string(l) != k {
			return bad("unknown language %q: want exactly %v", k, Languages)
		}
		t.Title, t.Body = strings.TrimSpace(t.Title), strings.TrimSpace(t.Body)
		switch {
		case t.Title == "" || t.Body == "":
			return bad("%s: the title and the body must not be empty", k)
		case utf8.RuneCountInString(t.Title) > MaxNoticeTitle:
			return bad("%s: the title is longer than %d characters", k, MaxNoticeTitle)
		case utf8.RuneCountInString(t.Body) > MaxNoticeBody:
			return bad("%s: the body is longer than %d characters", k, MaxNoticeBody)
		case strings.Count(t.Body, NoticeKeep) != 1:
			return bad("%s: the body must contain %s exactly once, where the kiosk states how long it keeps records", k, NoticeKeep)
		case strings.Contains(t.Title, "\n"):
			return bad("%s: the title must be one line", k)
		}
		for _, r := range t.Title + t.Body {
			if r != '\n' && !unicode.IsPrint(r) {
				return bad("%s: the text holds a control or invisible character (%U)", k, r)
			}
		}
		n.texts[l] = t
	}
	for _, l := range Languages {
		if _, ok := n.texts[l]; !ok {
			return bad("no text for %q: every language the kiosk offers (%v) needs one", l, Languages)
		}
	}
	return n, nil
}

// LoadNotice reads and validates a notice file.
func LoadNotice(path string) (*Notice, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the privacy notice: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxNoticeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the privacy notice %s: %w", path, err)
	}
	notice, err := ParseNotice(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return notice, nil
}

// Version is the notice's identity: the SHA-256 of its file, hex. The API
// asks integrations to name it, and each sealed record keeps it.
func (n *Notice) Version() string { return hex.EncodeToString(n.digest[:]) }

// Text is the notice in l (the default language's when l is unknown).
func (n *Notice) Text(l Lang) NoticeText {
	if t, ok := n.texts[l]; ok {
		return t
	}
	return n.texts[Languages[0]]
}

// Consent is the visitor's agreement to a notice, kept in the sealed
// record so each record shows which notice the person agreed to, and when.
type Consent struct {
	// Notice is the notice's Version (SHA-256 of its file, hex).
	Notice string `json:"notice_sha256"`
	// At is when the visitor agreed (the flow's clock).
	At time.Time `json:"at"`
	// Language is the language the notice was shown in.
	Language Lang `json:"language"`
	// Via says who showed the notice: "screen" (this kiosk), or "api"
	// (an integration that attests it showed the same notice).
	Via string `json:"via"`
}

// Ways a notice reaches a visitor.
const (
	ConsentOnScreen = "screen"
	ConsentViaAPI   = "api"
	// ConsentDemo marks the headless demo's generated visitor, who is
	// nobody: kiosk run --demo checks the sample face in over and over.
	ConsentDemo = "demo"
)

// ErrNoConsent means a check-in was started without the visitor's
// agreement to the current notice.
var ErrNoConsent = errors.New("the visitor has not agreed to the privacy notice")

// ErrWrongNotice means an integration named a notice this kiosk does not
// show (it changed, or the integration showed another one).
var ErrWrongNotice = errors.New("the consent names a different privacy notice than this kiosk shows")
