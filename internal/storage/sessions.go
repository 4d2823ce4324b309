package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// CreateSession stores a new browser session. The session is keyed by the
// keyed hash of its cookie, never by the cookie itself.
func (s *Store) CreateSession(ctx context.Context, ls models.LoginSession) error {
	if err := s.Conn(ctx).Create(&ls).Error; err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the session whose id hash is idHash if it is live at
// now; ok is false when there is none (or it expired).
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (ls models.LoginSession, ok bool, err error) {
	err = s.Conn(ctx).Where("id_hash = ? AND expires_at > ?", idHash, now.UTC()).Take(&ls).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.LoginSession{}, false, nil
	}
	if err != nil {
		return models.LoginSession{}, false, fmt.Errorf("load session: %w", err)
	}
	return ls, true, nil
}

// SignedIn is a live session with its user and the scopes that user has
// consented to for one client.
type SignedIn struct {
	Session   models.LoginSession
	User      models.User
	Consented []string
	// ClientRecorded reports that the session has already signed in to
	// the client (RecordSessionClient): recording it again changes
	// nothing and can be skipped.
	ClientRecorded bool
}

// SessionTouchInterval is how often TouchSession writes a session's
// LastSeenAt at most.
const SessionTouchInterval = time.Minute

// NeedsTouch reports whether TouchSession at now would write: the session
// was last seen SessionTouchInterval ago or more (or never).
func (si SignedIn) NeedsTouch(now time.Time) bool {
	last := si.Session.LastSeenAt
	return last == nil || !last.After(now.Add(-SessionTouchInterval))
}

// SessionForClient returns the live session whose id hash is idHash, its
// user and the user's consent to clientID, in one query (it runs on every
// authorization request). ok is false without a live session, or when its
// user was deleted.
func (s *Store) SessionForClient(ctx context.Context, idHash, clientID string, now time.Time) (SignedIn, bool, error) {
	var row struct {
		models.User
		SessionAuthTime time.Time
		SessionExpires  time.Time
		SessionSID      string   `gorm:"column:session_sid"`
		ConsentScopes   []string `gorm:"serializer:json"`
		SessionAMR      string
		SessionLastSeen *time.Time
		ClientRecorded  bool
	}
	// The session's last use and whether it knows the client come along,
	// so that the authorization writes neither when it has nothing to say.
	res := s.Conn(ctx).Table("login_sessions").
		Select("users.*, login_sessions.auth_time AS session_auth_time, login_sessions.expires_at AS session_expires, login_sessions.sid AS session_sid, consents.scopes AS consent_scopes, login_sessions.amr AS session_amr, "+
			"login_sessions.last_seen_at AS session_last_seen, session_clients.sid IS NOT NULL AS client_recorded").
		Joins("JOIN users ON users.id = login_sessions.user_id").
		Joins("LEFT JOIN consents ON consents.user_id = login_sessions.user_id AND consents.client_id = ?", clientID).
		Joins("LEFT JOIN session_clients ON session_clients.sid = login_sessions.sid AND session_clients.client_id = ? AND login_sessions.sid <> ''", clientID).
		Where("login_sessions.id_hash = ? AND login_sessions.expires_at > ?", idHash, now.UTC()).
		Limit(1).Scan(&row)
	if res.Error != nil {
		return SignedIn{}, false, fmt.Errorf("load session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return SignedIn{}, false, nil
	}
	return SignedIn{
		Session: models.LoginSession{IDHash: idHash, UserID: row.User.ID, AuthTime: row.SessionAuthTime, ExpiresAt: row.SessionExpires,
			SID: row.SessionSID, AMR: row.SessionAMR, LastSeenAt: row.SessionLastSeen},
		User:           row.User,
		Consented:      row.ConsentScopes,
		ClientRecorded: row.ClientRecorded,
	}, true, nil
}

// DeleteSession ends the session whose id hash is idHash, with the
// cascade of EndSession; ending a session that does not exist is not an
// error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.endSessions(ctx, time.Now(), "id_hash = ?", idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every browser session of userID, with the
// cascade of EndSession (its clients are told through the back channel).
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := s.endSessions(ctx, time.Now(), "user_id = ?", userID); err != nil {
		return fmt.Errorf("delete sessions of user: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions expired before now and
// returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res := s.Conn(ctx).Where("expires_at < ?", now.UTC()).Delete(&models.LoginSession{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", res.Error)
	}
	// An expired session's list of clients goes with it; its clients keep
	// their own sessions (no logout happened).
	if err := s.Conn(ctx).Where("sid NOT IN (?)", s.Conn(ctx).Model(&models.LoginSession{}).Select("sid")).
		Delete(&models.SessionClient{}).Error; err != nil {
		return res.RowsAffected, fmt.Errorf("delete expired sessions' clients: %w", err)
	}
	return res.RowsAffected, nil
}
