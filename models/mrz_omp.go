package models

// #cgo CFLAGS: -fopenmp
// #cgo LDFLAGS: -fopenmp
// #include <omp.h>
//
// // kiosk_omp_single makes every OpenMP parallel region started from the
// // calling thread run on that thread alone. libgomp keeps these settings
// // per thread (GCC 12), so the caller must hold its OS thread.
// static void kiosk_omp_single(void) {
//     omp_set_dynamic(0);
//     omp_set_num_threads(1);
//     omp_set_max_active_levels(0);
// }
//
// // kiosk_omp_team reports how many threads a parallel region asking for
// // four gets when started from the calling thread: the test of the above.
// static int kiosk_omp_team(void) {
//     int n = 0;
//     #pragma omp parallel num_threads(4)
//     {
//         #pragma omp single
//         n = omp_get_num_threads();
//     }
//     return n;
// }
import "C"

import "runtime"

// Tesseract in Debian 12 is built with OpenMP, and its LSTM asks for
// several threads per line; on a 2-core board that slows everything else
// down. OMP_THREAD_LIMIT=1 caps it, but libgomp reads the environment once,
// when the library is loaded, before any Go code runs: a setenv in an init
// function is too late. So the reader pins its goroutine to one OS thread
// for each OCR call and switches that thread to single-threaded OpenMP
// first (ompSingle). Setting OMP_THREAD_LIMIT=1 in the service environment
// as well does no harm.

// ompSingle must be called with the OS thread locked
// (runtime.LockOSThread), right before the OpenMP work on that thread.
func ompSingle() { C.kiosk_omp_single() }

// ompTeamSize runs a parallel region that asks for four threads after
// ompSingle, on one locked thread, and returns the team size it got. The
// test expects 1.
func ompTeamSize() int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ompSingle()
	return int(C.kiosk_omp_team())
}
