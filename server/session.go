package server

import (
	"context"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/server/web"
)

// Store is what the public server needs of the storage: sessions and
// consents.
type Store interface {
	web.SessionStore
	SessionForClient(ctx context.Context, idHash, clientID string, now time.Time) (storage.SignedIn, bool, error)
	DeleteUserSessions(ctx context.Context, userID string) error
	SaveConsent(ctx context.Context, userID, clientID string, scopes []string) error
	EndSession(ctx context.Context, idHash string, now time.Time) (storage.EndedSession, bool, error)
	EndUserSession(ctx context.Context, userID, sid string, now time.Time) (storage.EndedSession, bool, error)
	RecordSessionClient(ctx context.Context, sid, userID, clientID string, now time.Time) error
	TouchSession(ctx context.Context, idHash string, now time.Time) error
	UserSessions(ctx context.Context, userID, surface string, now time.Time) ([]models.LoginSession, error)
	UserGrants(ctx context.Context, userID string, now time.Time) ([]storage.Grant, error)
	RevokeGrant(ctx context.Context, userID, clientID string) (bool, error)
}

// sessionSurface is the public site's cookie name, which its sessions
// record (the console's sessions record their own).
const sessionSurface = "authgate"

// newSessions returns the public site's sessions: cookies named
// authgate_*, keyring purposes without prefix.
func newSessions(d Deps) *web.Sessions {
	return web.NewSessions(d.Store, d.Keys, web.SessionOptions{
		Name:     sessionSurface,
		Secure:   web.SecureCookies(d.Config.Issuer),
		Lifespan: d.Config.SessionLifespan,
	})
}

// currentFor returns the request's live session, its user and the user's
// consent to clientID, in one query. ok is false without a live session
// (or when its user was deleted).
func (s *Server) currentFor(r *http.Request, clientID string) (storage.SignedIn, bool, error) {
	h, ok := s.sessions.IDHash(r)
	if !ok {
		return storage.SignedIn{}, false, nil
	}
	return s.Store.SessionForClient(r.Context(), h, clientID, s.sessions.Now())
}

// endSession signs the browser out; a failure is logged, as the browser's
// cookie is cleared anyway.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.End(r.Context(), w, r); err != nil {
		s.Logger.ErrorContext(r.Context(), "end session", "request_id", RequestID(r.Context()), "error", err)
	}
}
