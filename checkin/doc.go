// Package checkin owns the check-in: the state machine shared by the
// touchscreen UI and the integration API, reference intake, the frame loop,
// and operator mode. It ties capture, the face models, rPPG liveness and
// the sealed store together, and it never writes a pixel, a template or a
// name anywhere but into the store's sealed fields.
//
// Start with Flow (NewFlow), driven frame by frame by a Loop; operator mode
// is Console.
package checkin

// dropCounter is implemented by sources that skip frames (capture.Latest).
type dropCounter interface{ Dropped() uint64 }
