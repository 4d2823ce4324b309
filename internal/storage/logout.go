package storage

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// Ending a browser session is one cascade, whoever asks (a logout, the
// account page, a password change, an administrator deleting the user):
// the session row goes, with the list of clients it signed in to, and each
// of those clients that registered a back-channel logout URI gets a logout
// delivery in the outbox, in the same transaction. The caller learns which
// sessions ended and their clients (the logout page frames the
// front-channel ones).

// EndedSession is a session that ended and the clients it had signed in to.
type EndedSession struct {
	Session models.LoginSession
	Clients []models.Client
}

// endSessions ends the sessions matching where (with args) and returns
// them. It runs in the transaction of ctx, or one of its own.
func (s *Store) endSessions(ctx context.Context, now time.Time, where string, args ...any) (ended []EndedSession, err error) {
	err = s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		var rows []models.LoginSession
		if err := db.Where(where, args...).Find(&rows).Error; err != nil {
			return err
		}
		ended = ended[:0]
		for _, ls := range rows {
			e := EndedSession{Session: ls}
			if ls.SID != "" {
				if err := db.Table("clients").Select("clients.*").
					Joins("JOIN session_clients ON session_clients.client_id = clients.id").
					Where("session_clients.sid = ?", ls.SID).
					Order("clients.id").Find(&e.Clients).Error; err != nil {
					return err
				}
				for _, c := range e.Clients {
					if c.BackchannelLogoutURI == "" {
						continue
					}
					jti, err := newJTI()
					if err != nil {
						return err
					}
					d := models.LogoutDelivery{
						JTI: jti, ClientID: c.ID, URI: c.BackchannelLogoutURI, Alg: cmp.Or(c.IDTokenAlg, "RS256"),
						Subject: ls.UserID, SID: ls.SID, NextAttempt: now.UTC(), CreatedAt: now.UTC(),
					}
					if err := db.Create(&d).Error; err != nil {
						return err
					}
				}
				if err := db.Where("sid = ?", ls.SID).Delete(&models.SessionClient{}).Error; err != nil {
					return err
				}
			}
			if err := db.Where("id_hash = ?", ls.IDHash).Delete(&models.LoginSession{}).Error; err != nil {
				return err
			}
			ended = append(ended, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("end sessions: %w", err)
	}
	return ended, nil
}

func newJTI() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// EndSession ends the session whose id hash is idHash (see EndedSession);
// ok is false when there was none.
func (s *Store) EndSession(ctx context.Context, idHash string, now time.Time) (e EndedSession, ok bool, err error) {
	ended, err := s.endSessions(ctx, now, "id_hash = ?", idHash)
	if err != nil || len(ended) == 0 {
		return EndedSession{}, false, err
	}
	return ended[0], true, nil
}

// EndUserSession ends the session of userID whose sid is sid; ok is false
// when the user has no such session.
func (s *Store) EndUserSession(ctx context.Context, userID, sid string, now time.Time) (e EndedSession, ok bool, err error) {
	if sid == "" {
		return EndedSession{}, false, nil
	}
	ended, err := s.endSessions(ctx, now, "user_id = ? AND sid = ?", userID, sid)
	if err != nil || len(ended) == 0 {
		return EndedSession{}, false, err
	}
	return ended[0], true, nil
}

// RecordSessionClient remembers that the session sid of userID signed in
// to clientID. Recording it again changes nothing.
func (s *Store) RecordSessionClient(ctx context.Context, sid, userID, clientID string, now time.Time) error {
	if sid == "" {
		return nil
	}
	sc := models.SessionClient{SID: sid, ClientID: clientID, UserID: userID, CreatedAt: now.UTC()}
	if err := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&sc).Error; err != nil {
		return fmt.Errorf("record session client: %w", err)
	}
	return nil
}

// TouchSession records that the session with idHash was used at now. It
// writes at most once per SessionTouchInterval per session.
func (s *Store) TouchSession(ctx context.Context, idHash string, now time.Time) error {
	now = now.UTC()
	err := s.conn(ctx).Model(&models.LoginSession{}).
		Where("id_hash = ? AND (last_seen_at IS NULL OR last_seen_at <= ?)", idHash, now.Add(-SessionTouchInterval)).
		Update("last_seen_at", now).Error
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// UserSessions returns the live sessions of userID that surface began
// (sessions from before surfaces were recorded are included), newest
// first.
func (s *Store) UserSessions(ctx context.Context, userID, surface string, now time.Time) ([]models.LoginSession, error) {
	var out []models.LoginSession
	err := s.conn(ctx).Where("user_id = ? AND expires_at > ? AND surface IN ?", userID, now.UTC(), []string{surface, ""}).
		Order("created_at DESC, id_hash").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list sessions of user: %w", err)
	}
	return out, nil
}

// Grant is a client a user has granted access to: a consent, live
// tokens, or both.
type Grant struct {
	Client models.Client
	// Scopes are the consented scopes (none for a first-party client).
	Scopes []string
	// Since is when the consent was last given, or zero.
	Since time.Time
	// Tokens counts the grant's live tokens and codes.
	Tokens int64
}

// UserGrants returns the clients userID has consented to or holds live
// tokens for at now, ordered by client name.
func (s *Store) UserGrants(ctx context.Context, userID string, now time.Time) ([]Grant, error) {
	db := s.conn(ctx)
	var consents []models.Consent
	if err := db.Where("user_id = ?", userID).Find(&consents).Error; err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	var live []struct {
		ClientID string
		N        int64
	}
	if err := bySubject(db.Model(&models.OAuthRequest{}), userID).Select("client_id, COUNT(*) AS n").
		Where("active = ? AND (expires_at IS NULL OR expires_at > ?)", true, now.UTC()).
		Group("client_id").Scan(&live).Error; err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	byClient := map[string]*Grant{}
	var ids []string
	for _, c := range consents {
		byClient[c.ClientID] = &Grant{Scopes: c.Scopes, Since: c.UpdatedAt}
		ids = append(ids, c.ClientID)
	}
	for _, l := range live {
		g, ok := byClient[l.ClientID]
		if !ok {
			g = &Grant{}
			byClient[l.ClientID] = g
			ids = append(ids, l.ClientID)
		}
		g.Tokens = l.N
	}
	if len(ids) == 0 {
		return []Grant{}, nil
	}
	var cs []models.Client
	if err := db.Where("id IN ?", ids).Order("name, id").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	out := make([]Grant, 0, len(cs))
	for _, c := range cs {
		g := byClient[c.ID]
		g.Client = c
		out = append(out, *g)
	}
	return out, nil
}

// RevokeGrant deletes what userID granted clientID: the consent and every
// code and token issued to the client for the user, in one transaction.
// ok is false when there was nothing to revoke.
func (s *Store) RevokeGrant(ctx context.Context, userID, clientID string) (ok bool, err error) {
	err = s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		res := bySubject(db, userID).Where("client_id = ?", clientID).Delete(&models.OAuthRequest{})
		if res.Error != nil {
			return res.Error
		}
		n := res.RowsAffected
		res = db.Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&models.Consent{})
		if res.Error != nil {
			return res.Error
		}
		ok = n+res.RowsAffected > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("revoke grant: %w", err)
	}
	return ok, nil
}

const dueLogout = "failed = ? AND next_attempt <= ? AND (claimed_until IS NULL OR claimed_until < ?)"

// ClaimLogout takes the next logout delivery due at now that no other
// replica holds, marking it claimed until until; ok is false when none is
// due. Two replicas never claim the same delivery at once: PostgreSQL
// skips rows another has locked, SQLite updates only while it is still
// due.
func (s *Store) ClaimLogout(ctx context.Context, now, until time.Time) (d models.LogoutDelivery, ok bool, err error) {
	// PostgreSQL keeps microseconds: the claim is compared later as stored.
	now, until = now.UTC(), until.UTC().Truncate(time.Microsecond)
	db := s.conn(ctx)
	if s.Dialect() == "postgres" {
		err := db.Transaction(func(tx *gorm.DB) error {
			res := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}).
				Where(dueLogout, false, now, now).
				Order("next_attempt, id").Limit(1).Find(&d)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			ok = true
			return tx.Model(&models.LogoutDelivery{}).Where("id = ?", d.ID).Update("claimed_until", until).Error
		})
		if err == nil && ok {
			d.ClaimedUntil = &until
		}
		return d, ok && err == nil, err
	}
	for ctx.Err() == nil {
		res := db.Where(dueLogout, false, now, now).Order("next_attempt, id").Limit(1).Find(&d)
		if res.Error != nil || res.RowsAffected == 0 {
			return d, false, res.Error
		}
		res = db.Model(&models.LogoutDelivery{}).
			Where("id = ? AND "+dueLogout, d.ID, false, now, now).
			Update("claimed_until", until)
		if res.Error != nil {
			return d, false, res.Error
		}
		if res.RowsAffected == 1 {
			d.ClaimedUntil = &until
			return d, true, nil
		}
	}
	return d, false, ctx.Err()
}

// DeleteLogout removes the delivery with id once the client accepted it.
func (s *Store) DeleteLogout(ctx context.Context, id uint64) error {
	return s.conn(ctx).Delete(&models.LogoutDelivery{}, id).Error
}

// LogoutFailure is what a failed delivery attempt records.
type LogoutFailure struct {
	Attempts    int
	LastError   string
	NextAttempt time.Time
	// Failed gives up on the delivery: it stays visible, not retried.
	Failed bool
}

// RecordLogoutFailure records f on the delivery with id and releases its
// claim, but only while the claim taken at ClaimLogout (claimedUntil)
// still holds; recorded is false if it had lapsed.
func (s *Store) RecordLogoutFailure(ctx context.Context, id uint64, claimedUntil time.Time, f LogoutFailure) (recorded bool, err error) {
	res := s.conn(ctx).Model(&models.LogoutDelivery{}).
		Where("id = ? AND claimed_until = ?", id, claimedUntil.UTC()).
		Updates(map[string]any{
			"attempts":      f.Attempts,
			"last_error":    f.LastError,
			"next_attempt":  f.NextAttempt.UTC(),
			"claimed_until": nil,
			"failed":        f.Failed,
		})
	return res.RowsAffected > 0, res.Error
}

// LogoutCounts returns the number of deliveries waiting and failed for
// good.
func (s *Store) LogoutCounts(ctx context.Context) (queued, failed int64, err error) {
	if err := s.conn(ctx).Model(&models.LogoutDelivery{}).Where("failed = ?", false).Count(&queued).Error; err != nil {
		return 0, 0, err
	}
	if err := s.conn(ctx).Model(&models.LogoutDelivery{}).Where("failed = ?", true).Count(&failed).Error; err != nil {
		return 0, 0, err
	}
	return queued, failed, nil
}
