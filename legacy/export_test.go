package legacy

// SplitCandidate exposes splitCandidate to the external test package.
var SplitCandidate = splitCandidate
