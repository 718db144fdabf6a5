// Package eval measures the kiosk's accuracy over labelled files, through
// the product's own code paths: the liveness window the check-in uses
// (checkin.Window, with its quality gate and decision times), the face
// models and thresholds the kiosk runs, and the rPPG estimator with the
// options it is given. Every report carries, beside its accuracy, what a
// trivial method scores on the same files (a constant heart-rate guess, a
// random match score, a zone reader that refuses everything), so a table
// cannot look good by luck.
//
// Start with AnalyzeVideo (liveness on one face video), EvalRPPG (heart
// rate over skin-patch videos with ground truth), ScorePairs with
// SummarisePairs (face verification over a labelled folder), or EvalMRZDir,
// EvalMRZGenerated and EvalMRZLines (machine-readable zones through the
// kiosk's reader: documents with a truth.csv, generated camera pictures,
// line crops). The kiosk command prints what these return; nothing here
// reads flags.
package eval
