package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"kiosk/checkin"
	"kiosk/liveness"
	"kiosk/models"
)

// LivenessEvalOptions configures EvalLiveness.
type LivenessEvalOptions struct {
	// Matcher supplies the detector, the anti-spoof model and the quality
	// gate, as in the kiosk.
	Matcher *models.Matcher
	// Detector, when set, replaces the matcher's detector (AnalyzeOptions).
	Detector Detector
	// Window sets the liveness window's options (the kiosk's if zero).
	Window checkin.WindowOptions
	// NominalTimes ignores a manifest's frame_times for the window's clock
	// (frames at i/fps, as a file without a log would give); the waveform
	// is still placed by them. For measuring what the camera's timestamp
	// jitter does.
	NominalTimes bool
	// Progress, when set, is called after each video.
	Progress func(done, total int, row LivenessRow)
}

// LivenessPoint is the window's judgement of one video at one decision
// time, beside the truth over the same frames.
type LivenessPoint struct {
	Age float64 `json:"age_s"`
	Judged
	// Truth is the reference heart rate over the window's frames (the
	// waveform's beats, or the manifest's mean bpm); NaN when unknown.
	Truth Num `json:"truth_bpm"`
	// TruthSpectral is the waveform's spectral peak over the same frames.
	TruthSpectral Num `json:"truth_spectral_bpm"`
	// Error is BPM − Truth (NaN when either is unknown).
	Error Num `json:"error_bpm"`
	// Accepted is whether the kiosk had let the face through by this
	// time: at the first decision, a live verdict then; later, a live
	// verdict at any decision time up to this one (the kiosk stops at it).
	Accepted bool `json:"accepted"`
	// Referred is whether the kiosk had sent the face to a member of staff
	// by this time (liveness.Refer: a pulse, but an unsure anti-spoof
	// score): neither accepted nor turned away.
	Referred bool `json:"referred"`
}

// LivenessRow is one video of a liveness evaluation.
type LivenessRow struct {
	File  string `json:"file"`
	Label Label  `json:"label"`
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind,omitempty"`
	// Frames and FPS describe the video as read.
	Frames int     `json:"frames"`
	FPS    float64 `json:"fps"`
	// Opened is false when the quality gate never let the window open;
	// Quality then counts its prompts.
	Opened  bool           `json:"opened"`
	Quality map[string]int `json:"quality,omitempty"`
	// Outcome is the kiosk's final verdict and when it came (Decided is
	// false when the video ended first: then it is the window's verdict at
	// the end).
	Outcome      liveness.Verdict `json:"outcome"`
	OutcomeAfter float64          `json:"outcome_after_s"`
	Decided      bool             `json:"decided"`
	Reason       string           `json:"reason"`
	// At holds the judgements at the window's first and last decision times (nil where
	// the video ended before the window was that old).
	At []*LivenessPoint `json:"at"`
	// Problem says why the video could not be evaluated; such rows count
	// in no rate.
	Problem string `json:"problem,omitempty"`
}

// PointSummary is the totals at one decision time.
type PointSummary struct {
	Age float64 `json:"age_s"`
	// Live and attack videos evaluated, and how many of each the kiosk had
	// accepted by then.
	Live         int `json:"live"`
	LiveAccepted int `json:"live_accepted"`
	// LiveReferred and AttackReferred count the videos sent to staff
	// (liveness.Refer): not turned away, not let through either.
	LiveReferred   int `json:"live_referred"`
	AttackReferred int `json:"attacks_referred"`
	// LiveNoWindow counts the live videos whose window never opened: the
	// quality gate held them back (a face too close, too dark, turned
	// away). A kiosk prompts such a visitor ("Please move back a little")
	// and starts when they comply; a recording cannot comply. ISO/IEC
	// 30107-3 reports such failures to acquire apart from BPCER, and so
	// does this: BPCER is over the live videos whose window opened.
	LiveNoWindow int `json:"live_no_window"`
	// LiveUndecided and AttackUndecided count the videos whose window
	// opened but which ended before this decision time with nothing
	// decided: a recording too short to judge, in no rate.
	LiveUndecided   int `json:"live_undecided"`
	AttackUndecided int `json:"attacks_undecided"`
	// LiveTurnedAway counts the people turned away: BPCER's numerator.
	LiveTurnedAway int `json:"live_turned_away"`
	Attacks        int `json:"attacks"`
	AttackAccepted int `json:"attacks_accepted"`
	// BPCER is the share of live videos with an open window and a decision
	// neither accepted nor referred (people turned away); APCER the share
	// of attack videos accepted (gated or not). NaN with none.
	BPCER Num `json:"bpcer"`
	APCER Num `json:"apcer"`
	// APCERByKind is APCER per attack species; ISO/IEC 30107-3 reports
	// the worst.
	APCERByKind map[string]Num `json:"apcer_by_kind,omitempty"`
	// PADBPCER and PADAPCER are the anti-spoof model alone (live when its
	// score reaches the threshold), as a baseline: what rPPG adds.
	PADBPCER Num `json:"pad_only_bpcer"`
	PADAPCER Num `json:"pad_only_apcer"`
	// HR is the heart-rate accuracy over live videos with a truth and an
	// estimate: MAE, how many within 3 bpm, and the constant guess.
	HRN      int `json:"hr_n"`
	MAE      Num `json:"mae_bpm"`
	Within3  int `json:"within_3_bpm"`
	Constant Num `json:"constant_guess_bpm"`
	// ConstantMAE is the MAE of guessing Constant (the median truth) for
	// every video: the baseline the MAE must beat.
	ConstantMAE Num `json:"constant_guess_mae_bpm"`
	// ConstantWithin3 is how many of the same videos the constant guess
	// puts within 3 bpm: the baseline beside Within3.
	ConstantWithin3 int `json:"constant_guess_within_3_bpm"`
}

// LivenessReport is a liveness evaluation over a set of videos.
type LivenessReport struct {
	Rows []LivenessRow `json:"rows"`
	// At is the totals over every row at the first and last decision times;
	// ByGroup the same per manifest group.
	At      []PointSummary            `json:"at"`
	ByGroup map[string][]PointSummary `json:"by_group,omitempty"`
	// Problems counts the rows that could not be evaluated.
	Problems int `json:"problems"`
}

// LoadLivenessSet finds the videos to evaluate in dir: its manifest.csv
// when there is one; otherwise every .avi of dir and of its immediate
// sub-folders that hold a recorder's BVP.csv and frames_timestamp.csv (the
// layout of ../shared/data/rppg-faces), each a live video with that
// waveform.
func LoadLivenessSet(dir string) ([]ManifestEntry, error) {
	mp := filepath.Join(dir, ManifestName)
	if f, err := os.Open(mp); err == nil {
		defer f.Close()
		entries, err := ReadManifest(f, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mp, err)
		}
		return entries, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	folders := []string{dir}
	subs, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if s.IsDir() {
			folders = append(folders, filepath.Join(dir, s.Name()))
		}
	}
	var out []ManifestEntry
	for _, f := range folders {
		bvp, times := filepath.Join(f, "BVP.csv"), filepath.Join(f, "frames_timestamp.csv")
		if _, err := os.Stat(bvp); err != nil {
			continue
		}
		if _, err := os.Stat(times); err != nil {
			continue
		}
		vids, _ := filepath.Glob(filepath.Join(f, "*.avi"))
		slices.Sort(vids)
		for _, v := range vids {
			out = append(out, ManifestEntry{File: v, Label: LabelLive, Kind: "recorded", BVP: bvp, FrameTimes: times})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no %s and no recorder folder (BVP.csv, frames_timestamp.csv and .avi videos): see docs/liveness.md for the manifest", dir, ManifestName)
	}
	return out, nil
}

// EvalLiveness judges every video as the kiosk does (AnalyzeVideo, the
// check-in's own window) and watches each to the window's last decision
// time: the heart rate and verdict at its first and last decision times
// (5 s and 8 s in the kiosk), the kiosk's outcome, and the totals with
// their baselines.
func EvalLiveness(ctx context.Context, entries []ManifestEntry, o LivenessEvalOptions) (LivenessReport, error) {
	var rep LivenessReport
	if o.Matcher == nil || (o.Matcher.Det == nil && o.Detector == nil) {
		return rep, errors.New("eval.EvalLiveness: a matcher with a detector is required")
	}
	first, last := o.Window.DecisionTimes()
	at := []time.Duration{first, last}
	waves := map[string]Waveform{}
	times := map[string][]float64{}
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		row := evalOne(ctx, e, o, at, waves, times)
		rep.Rows = append(rep.Rows, row)
		if o.Progress != nil {
			o.Progress(i+1, len(entries), row)
		}
	}
	th := o.Window.Thresholds
	if th == (liveness.Thresholds{}) {
		th = liveness.DefaultThresholds
	}
	groups := map[string][]LivenessRow{}
	for _, r := range rep.Rows {
		if r.Group != "" {
			groups[r.Group] = append(groups[r.Group], r)
		}
	}
	for k := range at {
		rep.At = append(rep.At, summarisePoint(rep.Rows, k, at[k], th.MinPAD))
		for g, rows := range groups {
			if rep.ByGroup == nil {
				rep.ByGroup = map[string][]PointSummary{}
			}
			rep.ByGroup[g] = append(rep.ByGroup[g], summarisePoint(rows, k, at[k], th.MinPAD))
		}
	}
	for _, r := range rep.Rows {
		if r.Problem != "" {
			rep.Problems++
		}
	}
	return rep, nil
}

// evalOne judges one video at the decision times at (first, last).
func evalOne(ctx context.Context, e ManifestEntry, o LivenessEvalOptions, at []time.Duration, waves map[string]Waveform, times map[string][]float64) LivenessRow {
	row := LivenessRow{File: e.File, Label: e.Label, Group: e.Group, Kind: e.Kind, At: make([]*LivenessPoint, len(at))}
	var wave *Waveform
	var ft []float64
	if e.BVP != "" {
		w, ok := waves[e.BVP]
		if !ok {
			var err error
			if w, err = readWaveformFile(e.BVP); err != nil {
				row.Problem = err.Error()
				return row
			}
			waves[e.BVP] = w
		}
		wave = &w
	}
	if e.FrameTimes != "" {
		t, ok := times[e.FrameTimes]
		if !ok {
			var err error
			if t, err = readFrameTimesFile(e.FrameTimes); err != nil {
				row.Problem = err.Error()
				return row
			}
			times[e.FrameTimes] = t
		}
		ft = t
	}
	ao := AnalyzeOptions{Matcher: o.Matcher, Detector: o.Detector, Window: o.Window, WatchUntil: at[len(at)-1]}
	if !o.NominalTimes {
		ao.FrameTimes = ft
	}
	a, err := AnalyzeVideo(ctx, e.File, ao)
	row.Frames, row.FPS = a.Frames, a.FPS
	if err != nil {
		row.Problem = err.Error()
		return row
	}
	row.Opened, row.Quality = a.Opened, a.Quality
	row.Outcome, row.OutcomeAfter, row.Decided, row.Reason = a.Decision.Verdict, a.DecidedAfter, a.Final, a.Decision.Reason
	if !a.Opened {
		row.Reason = "the quality gate never let the window open"
	}
	frameTime := func(i int) float64 {
		if ft != nil && i < len(ft) {
			return ft[i]
		}
		return float64(i) / a.FPS
	}
	for k, t := range at {
		i := slices.IndexFunc(a.Judgements, func(j Judgement) bool { return j.Age >= t.Seconds()-1e-9 })
		if i < 0 {
			continue
		}
		j := a.Judgements[i]
		p := &LivenessPoint{Age: j.Age, Judged: j.Judged, Truth: NaN(), TruthSpectral: NaN(), Error: NaN()}
		switch {
		case wave != nil:
			ref := wave.HeartRate(frameTime(j.From), frameTime(j.Frame))
			p.Truth, p.TruthSpectral = Num(ref.BPM), Num(ref.Spectral)
		case e.BPM > 0:
			p.Truth = Num(e.BPM)
		}
		if p.BPM > 0 && p.Truth.Known() {
			p.Error = p.BPM - p.Truth
		}
		// At the first decision time the kiosk accepts on a live verdict;
		// by the last, it has accepted if its own (first final) decision
		// was live, since the window ends at the give-up time at the latest.
		p.Accepted, p.Referred = j.Verdict == liveness.Live, j.Verdict == liveness.Refer
		if k > 0 {
			p.Accepted = row.Decided && row.Outcome == liveness.Live
			p.Referred = row.Decided && row.Outcome == liveness.Refer
		}
		row.At[k] = p
	}
	return row
}

// summarisePoint totals the rows at decision time k (0: first, 1: last),
// which is at.
func summarisePoint(rows []LivenessRow, k int, at time.Duration, minPAD float64) PointSummary {
	s := PointSummary{Age: at.Seconds(), APCERByKind: map[string]Num{}}
	kindN, kindAcc := map[string]int{}, map[string]int{}
	var padLiveN, padLiveRej, padAttN, padAttAcc int
	var truths, errs []float64
	for _, r := range rows {
		if r.Problem != "" {
			continue
		}
		p := r.At[k]
		acc, ref := p != nil && p.Accepted, p != nil && p.Referred
		if k > 0 && p == nil {
			// The video ended before the last decision time: what the
			// kiosk had decided by then stands.
			acc = r.Decided && r.Outcome == liveness.Live
			ref = r.Decided && r.Outcome == liveness.Refer
		}
		// A window that opened but whose video ended before this decision
		// time with nothing decided was neither turned away nor let
		// through: it counts in no rate.
		undecided := r.Opened && p == nil && !(k > 0 && r.Decided)
		if p != nil && p.PAD.Known() {
			padLive := float64(p.PAD) >= minPAD
			if r.Label == LabelLive {
				padLiveN++
				if !padLive {
					padLiveRej++
				}
			} else {
				padAttN++
				if padLive {
					padAttAcc++
				}
			}
		}
		switch r.Label {
		case LabelLive:
			s.Live++
			if !r.Opened {
				s.LiveNoWindow++
			}
			if undecided {
				s.LiveUndecided++
			}
			if acc {
				s.LiveAccepted++
			}
			if ref {
				s.LiveReferred++
			}
			if p != nil && p.Error.Known() {
				truths = append(truths, float64(p.Truth))
				errs = append(errs, float64(p.Error))
			}
		case LabelAttack:
			s.Attacks++
			kind := r.Kind
			if kind == "" {
				kind = "attack"
			}
			if undecided {
				s.AttackUndecided++
				break
			}
			kindN[kind]++
			if acc {
				s.AttackAccepted++
				kindAcc[kind]++
			}
			if ref {
				s.AttackReferred++
			}
		}
	}
	s.LiveTurnedAway = s.Live - s.LiveNoWindow - s.LiveUndecided - s.LiveAccepted - s.LiveReferred
	s.BPCER = ratio(s.LiveTurnedAway, s.Live-s.LiveNoWindow-s.LiveUndecided)
	s.APCER = ratio(s.AttackAccepted, s.Attacks-s.AttackUndecided)
	for kind, n := range kindN {
		s.APCERByKind[kind] = ratio(kindAcc[kind], n)
	}
	s.PADBPCER, s.PADAPCER = ratio(padLiveRej, padLiveN), ratio(padAttAcc, padAttN)
	s.HRN = len(errs)
	s.MAE, s.Constant, s.ConstantMAE = NaN(), NaN(), NaN()
	if len(errs) > 0 {
		guess, _ := median(truths) // errs is not empty, nor then truths
		var mae, cmae float64
		for i, e := range errs {
			mae += math.Abs(e) / float64(len(errs))
			cmae += math.Abs(guess-truths[i]) / float64(len(errs))
			if math.Abs(e) <= 3 {
				s.Within3++
			}
			if math.Abs(guess-truths[i]) <= 3 {
				s.ConstantWithin3++
			}
		}
		s.MAE, s.Constant, s.ConstantMAE = Num(mae), Num(guess), Num(cmae)
	}
	return s
}

func ratio(a, b int) Num {
	if b == 0 {
		return NaN()
	}
	return Num(float64(a) / float64(b))
}

// Kinds returns the attack kinds of a summary in a stable order.
func (s PointSummary) Kinds() []string {
	out := make([]string, 0, len(s.APCERByKind))
	for k := range s.APCERByKind {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ShortName is a row's file name without its folder, for tables.
func (r LivenessRow) ShortName() string {
	return strings.TrimSuffix(filepath.Base(r.File), filepath.Ext(r.File))
}
