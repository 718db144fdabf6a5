package api

import (
	"html/template"
	"net/http"
	"time"

	"kiosk/catalogue"
	"kiosk/checkin"
)

// NoticeResponse is GET /api/notice: the privacy notice visitors agree to,
// in every visitor language with the kiosk's retention stated, and its
// version, which POST /v1/checkins?consent= must name.
type NoticeResponse struct {
	Version          string                              `json:"notice_sha256"`
	RetentionSeconds int64                               `json:"retention_seconds"` // 0: nothing is kept
	Languages        map[checkin.Lang]checkin.NoticeText `json:"languages"`
}

// notices serves the notice as JSON for integrations and as a page for
// the visitor's phone (the consent screen's QR code points there).
type notices struct {
	notice    *checkin.Notice
	retention func() time.Duration
	cat       *catalogue.Catalogue
}

func (n *notices) texts() (map[checkin.Lang]checkin.NoticeText, time.Duration) {
	ret := n.retention()
	out := map[checkin.Lang]checkin.NoticeText{}
	for _, l := range checkin.Languages {
		out[l] = n.cat.Notice(l, n.notice, ret)
	}
	return out, ret
}

func (n *notices) json(w http.ResponseWriter, r *http.Request) {
	texts, ret := n.texts()
	writeJSON(w, http.StatusOK, NoticeResponse{Version: n.notice.Version(), RetentionSeconds: int64(ret / time.Second), Languages: texts})
}

// privacyPage is the full notice for a phone: every language, the notice's
// version, and where to check the signed retention report.
var privacyPage = template.Must(template.New("privacy").Parse(`<!doctype html>
<html lang="{{.First}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font:17px/1.5 system-ui,sans-serif;max-width:42em;margin:1em auto;padding:0 1em;color:#111;background:#fff}
section{border-top:1px solid #ccc;padding-top:.5em}p{white-space:pre-line}code{word-break:break-all}</style></head>
<body>
{{range .Sections}}<section lang="{{.Lang}}"><h1>{{.Title}}</h1><p>{{.Body}}</p>
<h2>{{.Retention}}</h2><p>{{.RetentionHow}} <a href="/api/retention">/api/retention</a></p>
<p>{{.VersionLabel}}: <code>{{$.Version}}</code></p></section>
{{end}}</body></html>
`))

type privacySection struct {
	Lang                                               checkin.Lang
	Title, Body, Retention, RetentionHow, VersionLabel string
}

func (n *notices) page(w http.ResponseWriter, r *http.Request) {
	texts, _ := n.texts()
	data := struct {
		First    checkin.Lang
		Title    string
		Version  string
		Sections []privacySection
	}{First: checkin.Languages[0], Title: n.cat.Text(checkin.Languages[0], catalogue.PrivacyTitle, nil), Version: n.notice.Version()}
	for _, l := range checkin.Languages {
		data.Sections = append(data.Sections, privacySection{Lang: l, Title: texts[l].Title, Body: texts[l].Body,
			Retention:    n.cat.Text(l, catalogue.PrivacyRetention, nil),
			RetentionHow: n.cat.Text(l, catalogue.PrivacyRetentionHow, nil),
			VersionLabel: n.cat.Text(l, catalogue.PrivacyVersion, nil)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if err := privacyPage.Execute(w, data); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "the notice page could not be written")
	}
}
