package adminapi

import (
	"net/http"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/models"
)

// userJSON is how the API shows a user: the accounts view and whether
// each sign-in channel is locked now.
type userJSON struct {
	accounts.UserView
	// LegacyLocked reports whether the legacy password grant is locked now.
	LegacyLocked bool `json:"legacy_locked"`
	// LoginLocked reports whether the login page is locked now.
	LoginLocked bool `json:"login_locked"`
}

func (a *api) userView(u models.User) userJSON {
	return userJSON{
		UserView:     accounts.UserViewOf(u),
		LegacyLocked: a.Accounts.IsLocked(u, accounts.ChannelLegacy),
		LoginLocked:  a.Accounts.IsLocked(u, accounts.ChannelLogin),
	}
}

func (a *api) handleListUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, offset, err := page(q)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		list, total, err := a.Accounts.ListUsers(r.Context(), accounts.ListFilter{Query: q.Get("q"), Limit: limit, Offset: offset})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]userJSON, 0, len(list))
		for _, u := range list {
			items = append(items, a.userView(u))
		}
		writeJSON(w, http.StatusOK, pageJSON[userJSON]{Items: items, Total: total, Limit: limit, Offset: offset})
	})
}

// createUserRequest is the body of POST /admin/api/users.
type createUserRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
}

func (a *api) handleCreateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in createUserRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		u, err := a.Accounts.CreateUser(r.Context(), actorOf(r.Context()), accounts.NewUser{
			Username: in.Username, Email: in.Email, Name: in.Name, Password: in.Password, Admin: in.Admin,
		})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/admin/api/users/"+u.Username)
		writeJSON(w, http.StatusCreated, a.userView(u))
	})
}

func (a *api) handleGetUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.Accounts.GetUser(r.Context(), r.PathValue("username"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a.userView(u))
	})
}

// updateUserRequest is the body of PATCH /admin/api/users/{username}: the
// fields present are changed.
type updateUserRequest struct {
	Email *string `json:"email"`
	Name  *string `json:"name"`
	Admin *bool   `json:"admin"`
	// Disabled true stops every sign-in of the user and ends their
	// sessions and tokens; false lets them sign in again.
	Disabled *bool `json:"disabled"`
	// RequireMFA true makes the user sign in with a second factor.
	RequireMFA *bool `json:"require_mfa"`
	// EmailVerified marks the address verified (or not).
	EmailVerified *bool `json:"email_verified"`
}

func (a *api) handleUpdateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in updateUserRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		u, err := a.Accounts.UpdateUser(r.Context(), actorOf(r.Context()), r.PathValue("username"),
			accounts.UserUpdate{Email: in.Email, Name: in.Name, Admin: in.Admin, Disabled: in.Disabled, RequireMFA: in.RequireMFA, EmailVerified: in.EmailVerified})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a.userView(u))
	})
}

func (a *api) handleDeleteUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Accounts.DeleteUser(r.Context(), actorOf(r.Context()), r.PathValue("username")); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// passwordRequest is the body of POST /admin/api/users/{username}/password.
type passwordRequest struct {
	Password string `json:"password"`
}

// handleSetPassword sets a user's password; accounts regenerates the
// security token and emails it.
func (a *api) handleSetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in passwordRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := a.Accounts.SetPassword(r.Context(), actorOf(r.Context()), r.PathValue("username"), in.Password); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleResetToken gives a user a new security token, emailed to the user
// and never part of the response.
func (a *api) handleResetToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Accounts.ResetToken(r.Context(), actorOf(r.Context()), r.PathValue("username"), false); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *api) handleUnlock() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		username := r.PathValue("username")
		if err := a.Accounts.Unlock(ctx, actorOf(ctx), username); err != nil {
			a.writeError(w, r, err)
			return
		}
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a.userView(u))
	})
}
