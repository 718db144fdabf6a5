package models

import (
	"reflect"
	"strings"
	"testing"
)

const (
	testSHA = "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"
	embRow  = "role=embedder dim=512 input=112 mean=127 scale=0.0078125 colour=rgb align=arcface"
	calRow  = " bands=0.25,0.53 pass=0.5,0.9 fail=0,0.45"
)

func TestParseRecipe(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // error substring; "" for valid
	}{
		{"detector", "role=detector", ""},
		{"optional embedder, uncalibrated", embRow + " optional=yes", ""},
		{"calibrated embedder", embRow + calRow, ""},
		{"no role", "dim=512", "no role"},
		{"unknown role", "role=classifier", "unknown role"},
		{"unknown key", "role=pad speed=fast", "unknown key"},
		{"repeated key", "role=pad role=pad", "repeated"},
		{"not key=value", "role=pad fast", "key=value"},
		{"embedder key on a detector", "role=detector dim=128", "only for role=embedder"},
		{"embedder without colour", strings.Replace(embRow, " colour=rgb", "", 1), "no colour="},
		{"bad colour", strings.Replace(embRow, "colour=rgb", "colour=yuv", 1), "rgb or bgr"},
		{"unknown template", strings.Replace(embRow, "align=arcface", "align=mtcnn", 1), "alignment template"},
		{"tiny dim", strings.Replace(embRow, "dim=512", "dim=3", 1), "whole number"},
		{"zero scale", strings.Replace(embRow, "scale=0.0078125", "scale=0", 1), "number in"},
		{"NaN mean", strings.Replace(embRow, "mean=127", "mean=NaN", 1), "number in"},
		{"bands without bounds", embRow + " bands=0.25,0.53", "together"},
		{"refer band closable", embRow + " bands=0.25,0.53 pass=0.4,0.9 fail=0,0.45", "refer band"},
		{"bands outside bounds", embRow + " bands=0.25,0.95 pass=0.5,0.9 fail=0,0.45", "default"},
		{"inverted bands", embRow + " bands=0.6,0.5 pass=0.5,0.9 fail=0,0.45", "FAIL ≤ PASS"},
		{"bands beyond cosine", embRow + " bands=0.25,1.5 pass=0.5,0.9 fail=0,0.45", "[-1, 1]"},
		{"one number", embRow + " bands=0.25 pass=0.5,0.9 fail=0,0.45", "A,B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipe(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ParseRecipe(%q) = %v; want ok", tc.in, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("ParseRecipe(%q) = %v; want an error containing %q", tc.in, err, tc.want)
			case err == nil:
				back, err := ParseRecipe(r.String())
				if err != nil || !reflect.DeepEqual(back, r) {
					t.Errorf("ParseRecipe(String()) = %+v, %v; want %+v", back, err, r)
				}
			}
		})
	}
}

func TestParseManifestColumns(t *testing.T) {
	row6 := "a.onnx\t" + testSHA + "\t10\tMIT\tthing\tshared:a.onnx"
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"six columns (before recipes)", row6, ""},
		{"seven columns", row6 + "\trole=pad", ""},
		{"eight columns", row6 + "\trole=pad\tx", "columns"},
		{"bad recipe names the file", row6 + "\trole=robot", "a.onnx"},
		{"listed twice", row6 + "\n" + row6, "twice"},
		{"empty", "# nothing\n", "no entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest(tc.in)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("ParseManifest(%q) = %v; want %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestManifestRecipes: every model in the shipped manifest says what it is
// for, the default embedder is calibrated, and an optional one is listed
// with its recipe (so a deployment swaps it in by configuration).
func TestManifestRecipes(t *testing.T) {
	roles := map[string]Role{YuNet: RoleDetector, FeatureModel: RoleEmbedder, LivenessModel: RolePAD}
	for _, e := range Manifest() {
		if e.Recipe.Role == "" {
			t.Errorf("%s has no recipe", e.File)
		}
		if want, ok := roles[e.File]; ok && (e.Recipe.Role != want || e.Recipe.Optional) {
			t.Errorf("%s: role %s, optional %v; want required %s", e.File, e.Recipe.Role, e.Recipe.Optional, want)
		}
	}
	if !mustLookup(t, FeatureModel).Recipe.Calibrated() {
		t.Error("the default embedder has no calibration")
	}
	if got := Embedders(); len(got) < 2 || got[0] != FeatureModel {
		t.Errorf("Embedders() = %v; want %s first and an alternative", got, FeatureModel)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(manifestTSV)
	f.Add("a.onnx\t" + testSHA + "\t10\tMIT\tthing\tshared:a.onnx")
	f.Add("a.onnx\t" + testSHA + "\t10\tMIT\tthing\tshared:a.onnx\t" + embRow + calRow)
	f.Add("a.onnx\t" + testSHA + "\t10\tMIT\tthing\tnpm:p@1:x:" + testSHA + "\trole=pad optional=yes")
	f.Fuzz(func(t *testing.T, text string) {
		es, err := ParseManifest(text)
		if err != nil {
			return
		}
		for _, e := range es {
			if !isHex64(e.SHA256) || e.Bytes <= 0 || e.File == "" {
				t.Fatalf("accepted a bad entry %+v", e)
			}
			if e.Recipe.Role == "" {
				continue
			}
			back, err := ParseRecipe(e.Recipe.String())
			if err != nil || !reflect.DeepEqual(back, e.Recipe) {
				t.Fatalf("recipe %q does not survive String: %+v, %v", e.Recipe.String(), back, err)
			}
			if c := e.Recipe.Calibration; c != nil && (c.Check(c.Bands) != nil || c.FailRange[1] >= c.PassRange[0]) {
				t.Fatalf("accepted a calibration operators could break: %+v", c)
			}
		}
	})
}
