package ui

import (
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"kiosk/capture"
	"kiosk/checkin"
	"kiosk/models"
)

// previewFrame renders a fixed generated frame with one annotated face.
func previewFrame(t *testing.T, faces []models.Face) checkin.PreviewFrame {
	t.Helper()
	src := capture.NewSynthetic(capture.SyntheticOptions{Width: 320, Height: 240, Noise: -1, Motion: -1, Start: time.Unix(0, 0)})
	f, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	models.Annotate(models.Image{Width: f.Width, Height: f.Height, Pix: f.Pix}, faces)
	return checkin.PreviewFrame{Frame: f, Faces: faces, Stats: checkin.PreviewStats{Frames: 90, FPS: 29.7, Faces: len(faces), Detect: 6400 * time.Microsecond, Dropped: 3}}
}

func TestPreviewGolden(t *testing.T) {
	face := models.Face{X: 118, Y: 75, W: 85, H: 100, Score: 0.97,
		Landmarks: [5]models.Point{{X: 145, Y: 115}, {X: 178, Y: 117}, {X: 162, Y: 133}, {X: 146, Y: 150}, {X: 175, Y: 152}}}
	for _, tc := range []struct {
		name     string
		faces    []models.Face
		warnings []string
	}{
		{"preview_one_face.png", []models.Face{face}, nil},
		{"preview_no_face_software_tpm.png", nil, []string{"Software TPM: not secure", "Demo video: no camera"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test.NewTempApp(t)
			p := NewPreview(PreviewOptions{Warnings: tc.warnings})
			w := test.NewWindow(p.Content())
			defer w.Close()
			w.Resize(fyne.NewSize(480, 440))
			p.Update(previewFrame(t, tc.faces))
			if p.Shown() != 1 {
				t.Fatalf("Shown() = %d after one Update; want 1", p.Shown())
			}
			test.AssertRendersToImage(t, tc.name, w.Canvas())
		})
	}
}

func TestPromptFor(t *testing.T) {
	for _, tc := range []struct {
		faces int
		want  string
	}{{0, "Please look at the camera"}, {1, "Face found: hold still"}, {2, "One person at a time, please"}, {5, "One person at a time, please"}} {
		if got := PromptFor(tc.faces); got != tc.want {
			t.Errorf("PromptFor(%d) = %q; want %q", tc.faces, got, tc.want)
		}
	}
}
