package adminapi

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/models"
)

// AppPasswords is what the API needs of the app passwords
// (apppasswords.Service): a list that never holds a value or a hash, and
// an audited revocation.
type AppPasswords interface {
	List(ctx context.Context, userID string, withRevoked bool) ([]models.AppPassword, error)
	Revoke(ctx context.Context, actor, userID, id string) error
	Get(ctx context.Context, id string) (models.AppPassword, error)
}

// appPasswordsJSON lists a user's app passwords.
type appPasswordsJSON struct {
	Username     string              `json:"username"`
	AppPasswords []apppasswords.View `json:"app_passwords"`
}

// handleListAppPasswords lists a user's app passwords, revoked ones too.
func (a *api) handleListAppPasswords() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := a.Accounts.GetUser(ctx, r.PathValue("username"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		list, err := a.AppPasswords.List(ctx, u.ID, true)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, appPasswordsJSON{Username: u.Username, AppPasswords: apppasswords.Views(list, a.Now())})
	})
}

// handleRevokeAppPassword revokes one app password of a user (audited);
// what it obtained stops working at once. Revoking one already revoked
// changes nothing.
func (a *api) handleRevokeAppPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := a.Accounts.GetUser(ctx, r.PathValue("username"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		id := r.PathValue("id")
		if err := a.AppPasswords.Revoke(ctx, actorOf(ctx), u.ID, id); err != nil {
			a.writeError(w, r, err)
			return
		}
		p, err := a.AppPasswords.Get(ctx, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, apppasswords.ViewOf(p, a.Now()))
	})
}
