// Refine failures the user can act on (the message says what to do), as opposed to internal errors.
export class RefineError extends Error {}

/** Too few tracks survived filtering for bundle adjustment to be meaningful. */
export class TooFewTracksError extends RefineError {}
