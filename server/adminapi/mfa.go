package adminapi

import (
	"net/http"

	"github.com/authgate/authgate/internal/mfa"
)

// mfaJSON is how the API shows a user's second factors: what they have
// set up, never a secret.
type mfaJSON struct {
	Username string `json:"username"`
	mfa.Factors
	// Removed is set by a reset that removed something.
	Removed *bool `json:"removed,omitempty"`
}

func (a *api) handleListMFA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := a.Accounts.GetUser(ctx, r.PathValue("username"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		fs, err := a.MFA.List(ctx, u.ID)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, mfaJSON{Username: u.Username, Factors: fs})
	})
}

// handleResetMFA removes every second factor of the user (they lost the
// device): audited, and the user is emailed.
func (a *api) handleResetMFA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := a.Accounts.GetUser(ctx, r.PathValue("username"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		removed, err := a.MFA.Reset(ctx, actorOf(ctx), u)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		fs, err := a.MFA.List(ctx, u.ID)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, mfaJSON{Username: u.Username, Factors: fs, Removed: &removed})
	})
}
