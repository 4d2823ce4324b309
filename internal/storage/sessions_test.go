package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestSessionsAndConsents(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := storage.New(db)
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, id := range []string{"u1", "u2"} {
			u := models.User{ID: id, Username: id, Email: id + "@example.com", PasswordHash: "x", SecurityTokenHash: "t-" + id}
			if err := db.Create(&u).Error; err != nil {
				t.Fatal(err)
			}
		}
		for _, ls := range []models.LoginSession{
			{IDHash: "live", UserID: "u1", AuthTime: now, ExpiresAt: now.Add(time.Hour)},
			{IDHash: "old", UserID: "u1", AuthTime: now, ExpiresAt: now.Add(-time.Minute)},
			{IDHash: "other", UserID: "u2", AuthTime: now, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := s.CreateSession(ctx, ls); err != nil {
				t.Fatal(err)
			}
		}
		if ls, ok, err := s.Session(ctx, "live", now); err != nil || !ok || ls.UserID != "u1" || !ls.AuthTime.Equal(now) {
			t.Errorf("Session(live) = %+v, %v, %v; want u1's", ls, ok, err)
		}
		if _, ok, err := s.Session(ctx, "old", now); err != nil || ok {
			t.Errorf("Session(old) = %v, %v; want an expired session not found", ok, err)
		}

		if err := s.SaveConsent(ctx, "u1", "app", []string{"openid"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveConsent(ctx, "u1", "app", []string{"openid", "email"}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.SessionForClient(ctx, "live", "app", now)
		if err != nil || !ok || got.User.Username != "u1" || !slices.Equal(got.Consented, []string{"openid", "email"}) || !got.Session.AuthTime.Equal(now) {
			t.Errorf("SessionForClient(live, app) = %+v, %v, %v; want u1 with openid and email", got, ok, err)
		}
		if got, ok, err := s.SessionForClient(ctx, "live", "another", now); err != nil || !ok || got.Consented != nil {
			t.Errorf("SessionForClient(live, another) = %+v, %v, %v; want no consent", got, ok, err)
		}
		if _, ok, err := s.SessionForClient(ctx, "old", "app", now); err != nil || ok {
			t.Errorf("SessionForClient(old) = %v, %v; want not found", ok, err)
		}

		if n, err := s.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}
		if err := s.DeleteUserSessions(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Session(ctx, "live", now); ok {
			t.Error("DeleteUserSessions left a session of u1")
		}
		if _, ok, _ := s.Session(ctx, "other", now); !ok {
			t.Error("DeleteUserSessions removed another user's session")
		}
		if err := s.DeleteSession(ctx, "other"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Session(ctx, "other", now); ok {
			t.Error("DeleteSession left the session")
		}

		if err := s.SaveConsent(ctx, "u2", "app", []string{"openid"}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUserConsents(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Consent(ctx, "u1", "app"); ok {
			t.Error("DeleteUserConsents left u1's consent")
		}
		if _, ok, _ := s.Consent(ctx, "u2", "app"); !ok {
			t.Error("DeleteUserConsents removed u2's consent")
		}
		if err := s.DeleteClientConsents(ctx, "app"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Consent(ctx, "u2", "app"); ok {
			t.Error("DeleteClientConsents left a consent to the client")
		}
	})
}
