package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/models"
)

// AppPasswords is what /account/app-passwords needs of the app passwords
// (apppasswords.Service).
type AppPasswords interface {
	Create(ctx context.Context, actor, userID string, in apppasswords.Spec) (models.AppPassword, string, error)
	List(ctx context.Context, userID string, withRevoked bool) ([]models.AppPassword, error)
	Revoke(ctx context.Context, actor, userID, id string) error
	Clients(ctx context.Context) ([]models.Client, error)
	MaxLifetime() time.Duration
}

// noticeAppPasswordRevoked is the notice after a revocation.
const noticeAppPasswordRevoked = "app-password-revoked"

// dateLayout is how the form's expiry reads (an HTML date input).
const dateLayout = "2006-01-02"

// appPasswordsData is the Data of /account/app-passwords.
type appPasswordsData struct {
	Username  string
	Passwords []appPasswordRow
	Clients   []appPasswordClient
	Scopes    []appPasswordScope
	// MaxDays is the administrator's longest expiry in days (0: none).
	MaxDays int
	// MaxDate is the latest expiry the date input offers.
	MaxDate string
	// Form holds what was typed, shown again after an error.
	Name, ClientID, Expires string
	// Created is set once, on the page that shows a new value.
	Created *createdAppPassword
}

type appPasswordRow struct {
	ID, Name, Client, State string
	Scopes                  []string
	Created                 time.Time
	Expires                 *time.Time
	LastUsed                *time.Time
	LastUsedClient          string
	LastUsedIP              string
	Active                  bool
}

type appPasswordClient struct {
	ID, Name string
	Selected bool
}

type appPasswordScope struct {
	Name    string
	Checked bool
}

type createdAppPassword struct {
	Name, Value string
}

// handleAppPasswords shows the user's app passwords and the form that
// creates one.
func (s *Server) handleAppPasswords() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		s.renderAppPasswords(w, r, u, http.StatusOK, "", &appPasswordsData{})
	})
}

// handleAppPasswordCreate creates an app password and shows its value,
// this once. Bad input shows the form again with what was typed and a
// message; nothing is created.
func (s *Server) handleAppPasswordCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		d := &appPasswordsData{Name: r.PostFormValue("name"), ClientID: r.PostFormValue("client_id"), Expires: strings.TrimSpace(r.PostFormValue("expires"))}
		spec := apppasswords.Spec{Name: d.Name, ClientID: d.ClientID, Scopes: r.PostForm["scope"]}
		if d.Expires != "" {
			day, err := time.Parse(dateLayout, d.Expires)
			if err != nil {
				s.renderAppPasswords(w, r, u, http.StatusBadRequest, "Expires: enter a date as YYYY-MM-DD, or leave it empty.", d)
				return
			}
			spec.ExpiresAt = &day
		}
		p, value, err := s.AppPasswords.Create(r.Context(), accounts.UserActor(u.Username), u.ID, spec)
		if err != nil {
			if e, ok := apperr.As(err); ok && e.Code != apperr.Internal && e.Code != apperr.Unavailable {
				d.scopes(spec.Scopes)
				s.renderAppPasswords(w, r, u, statusOf(e.Code), e.Text(), d)
				return
			}
			s.renderFailure(w, r, err, true)
			return
		}
		s.renderAppPasswords(w, r, u, http.StatusOK, "", &appPasswordsData{Created: &createdAppPassword{Name: p.Name, Value: value}})
	})
}

// handleAppPasswordRevoke revokes one of the user's app passwords.
func (s *Server) handleAppPasswordRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		if err := s.AppPasswords.Revoke(r.Context(), accounts.UserActor(u.Username), u.ID, r.PathValue("id")); err != nil {
			if e, ok := apperr.As(err); ok && e.Code != apperr.Internal && e.Code != apperr.Unavailable {
				s.pages.Render(w, r, statusOf(e.Code), "error", s.page(w, r, "App passwords", e.Text(), true))
				return
			}
			s.renderFailure(w, r, err, true)
			return
		}
		s.setNotice(w, u, noticeAppPasswordRevoked)
		http.Redirect(w, r, "/account/app-passwords", http.StatusSeeOther)
	})
}

// scopes marks the checked scopes of the form.
func (d *appPasswordsData) scopes(checked []string) {
	d.Scopes = nil
	for _, sc := range apppasswords.UserScopes {
		on := false
		for _, c := range checked {
			on = on || strings.Contains(" "+c+" ", " "+sc+" ")
		}
		d.Scopes = append(d.Scopes, appPasswordScope{Name: sc, Checked: on})
	}
}

// renderAppPasswords fills d with the list and the form's choices and
// renders the page with status and msg as its error.
func (s *Server) renderAppPasswords(w http.ResponseWriter, r *http.Request, u models.User, status int, msg string, d *appPasswordsData) {
	ctx := r.Context()
	list, err := s.AppPasswords.List(ctx, u.ID, true)
	if err != nil {
		s.renderFailure(w, r, err, true)
		return
	}
	clients, err := s.AppPasswords.Clients(ctx)
	if err != nil {
		s.renderFailure(w, r, err, true)
		return
	}
	names := map[string]string{}
	for _, c := range clients {
		names[c.ID] = c.Name
		d.Clients = append(d.Clients, appPasswordClient{ID: c.ID, Name: c.Name, Selected: c.ID == d.ClientID})
	}
	name := func(id string) string {
		if id == "" {
			return ""
		}
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
	now := time.Now()
	for _, p := range list {
		state := apppasswords.StateAt(p, now)
		d.Passwords = append(d.Passwords, appPasswordRow{
			ID: p.ID, Name: p.Name, Client: name(p.ClientID), State: state, Scopes: p.Scopes,
			Created: p.CreatedAt.UTC(), Expires: p.ExpiresAt, LastUsed: p.LastUsedAt,
			LastUsedClient: name(p.LastUsedClient), LastUsedIP: p.LastUsedIP, Active: state == apppasswords.StateActive,
		})
	}
	if d.Scopes == nil {
		d.scopes(nil)
	}
	d.Username = u.Username
	if max := s.AppPasswords.MaxLifetime(); max > 0 {
		d.MaxDays = int(max / (24 * time.Hour))
		d.MaxDate = now.UTC().Add(max).Format(dateLayout)
	}
	p := s.page(w, r, "App passwords", "", true)
	p.Error = msg
	p.Username = u.Username
	if msg == "" {
		p.Notice = s.takeNotice(w, r, u)
	}
	p.Data = d
	s.pages.Render(w, r, status, "account-app-passwords", p)
}
