package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// WriteText prints one line per check and a verdict line, for people:
//
//	PASS  signature  ES256, key oIWv...
//	...
//	verdict: PASS (7 checks: 6 passed, 1 skipped)
func (r *Result) WriteText(w io.Writer) error {
	counts := map[Status]int{}
	var b strings.Builder
	for _, c := range r.Checks {
		counts[c.Status]++
		fmt.Fprintf(&b, "%-4s  %-9s  %s\n", c.Status, c.Name, c.Detail)
	}
	verdict := "PASS"
	if counts[Fail] > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "verdict: %s (%d checks: %d passed, %d warned, %d failed, %d skipped)\n",
		verdict, len(r.Checks), counts[Pass], counts[Warn], counts[Fail], counts[Skip])
	_, err := io.WriteString(w, b.String())
	return err
}

// Fetch GETs a served report from url (a kiosk's /api/retention) with c,
// reading at most MaxInputBytes. Transport security is not what makes the
// result trustworthy: Verify is. A nil c means http.DefaultClient; give one
// with a timeout.
func Fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence: fetching %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("evidence: fetching report: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("evidence: reading report from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("evidence: %s answered %s", url, resp.Status)
	}
	if len(body) > MaxInputBytes {
		return nil, errors.New("evidence: the served report is larger than MaxInputBytes")
	}
	return body, nil
}
