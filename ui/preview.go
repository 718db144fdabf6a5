// Package ui holds the kiosk's Fyne screens. Screens are plain structs that
// build their widgets once and expose pure update methods, so they render
// the same under the test driver (golden images) and on a real display.
//
// Start with Preview, the live camera screen.
package ui

import (
	"fmt"
	"image"
	"image/color"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"

	"kiosk/checkin"
)

// Colours chosen for contrast on a bright kiosk screen.
var (
	colBackground = color.NRGBA{0x10, 0x14, 0x1c, 0xff}
	colText       = color.NRGBA{0xf2, 0xf4, 0xf8, 0xff}
	colWarn       = color.NRGBA{0xff, 0xc8, 0x3d, 0xff}
	colWarnBg     = color.NRGBA{0x5c, 0x1a, 0x1a, 0xff}
)

// PreviewOptions configures NewPreview.
type PreviewOptions struct {
	// Warnings are shown in a banner above the video, one per line, e.g.
	// "Software TPM: not secure" or "Demo video: no camera".
	Warnings []string
}

// Preview is the live camera screen: the video with face boxes, one
// instruction for the visitor, and a status line with the measured frame
// rate. Update may be called from any goroutine; it hands the pixels to the
// UI goroutine through fyne.Do and skips a frame while the previous one is
// still waiting to be drawn, so a slow display never backs up capture.
type Preview struct {
	video   *canvas.Image
	prompt  *canvas.Text
	status  *canvas.Text
	content fyne.CanvasObject
	pending atomic.Bool
	shown   atomic.Uint64
}

// NewPreview builds the screen's widgets.
func NewPreview(o PreviewOptions) *Preview {
	p := &Preview{}
	p.video = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 640, 480)))
	p.video.FillMode = canvas.ImageFillContain
	p.video.ScaleMode = canvas.ImageScaleFastest
	p.video.SetMinSize(fyne.NewSize(320, 240))

	p.prompt = canvas.NewText("Starting camera…", colText)
	p.prompt.TextSize = 28
	p.prompt.TextStyle.Bold = true
	p.prompt.Alignment = fyne.TextAlignCenter

	p.status = canvas.NewText("", colText)
	p.status.TextSize = 16
	p.status.Alignment = fyne.TextAlignCenter

	top := fyne.CanvasObject(layout.NewSpacer())
	if len(o.Warnings) > 0 {
		box := container.NewVBox()
		for _, w := range o.Warnings {
			t := canvas.NewText(w, colWarn)
			t.TextSize = 18
			t.TextStyle.Bold = true
			t.Alignment = fyne.TextAlignCenter
			box.Add(t)
		}
		top = container.NewStack(canvas.NewRectangle(colWarnBg), container.NewPadded(box))
	}
	bottom := container.NewVBox(container.NewPadded(p.prompt), p.status)
	p.content = container.NewStack(
		canvas.NewRectangle(colBackground),
		container.NewBorder(top, bottom, nil, nil, p.video),
	)
	return p
}

// Content is the screen's root object.
func (p *Preview) Content() fyne.CanvasObject { return p.content }

// Shown is how many frames reached the screen.
func (p *Preview) Shown() uint64 { return p.shown.Load() }

// Update shows a processed frame and releases it. Safe from any goroutine.
func (p *Preview) Update(pf checkin.PreviewFrame) {
	defer pf.Frame.Release()
	if !p.pending.CompareAndSwap(false, true) {
		return // the UI has not drawn the last frame yet; drop this one
	}
	rgba := pf.Frame.RGBA(nil) // a fresh buffer: the renderer may still read the old one
	prompt := PromptFor(len(pf.Faces))
	status := StatusLine(pf.Stats)
	fyne.Do(func() {
		p.video.Image = rgba
		p.video.Refresh()
		p.setText(p.prompt, prompt)
		p.setText(p.status, status)
		p.shown.Add(1)
		p.pending.Store(false)
	})
}

func (p *Preview) setText(t *canvas.Text, s string) {
	if t.Text != s {
		t.Text = s
		t.Refresh()
	}
}

// PromptFor is the one instruction shown to the visitor for a face count.
func PromptFor(faces int) string {
	switch faces {
	case 0:
		return "Please look at the camera"
	case 1:
		return "Face found: hold still"
	default:
		return "One person at a time, please"
	}
}

// StatusLine is the operator-facing line under the video.
func StatusLine(s checkin.PreviewStats) string {
	return fmt.Sprintf("%.1f fps · %d face(s) · detect %.1f ms · dropped %d", s.FPS, s.Faces, float64(s.Detect.Microseconds())/1000, s.Dropped)
}
