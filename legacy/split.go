package legacy

// TokenLength is the length of a security token.
const TokenLength = 24

// splitCandidate splits what was sent in the password field into a
// password and a candidate security token, the token being the last
// TokenLength bytes. ok is false when the string is too short to hold both
// a (non-empty) password and a token.
func splitCandidate(sent string) (password, token string, ok bool) {
	if len(sent) <= TokenLength {
		return sent, "", false
	}
	cut := len(sent) - TokenLength
	return sent[:cut], sent[cut:], true
}
