package storagetest

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// testTOTP covers a TOTP factor's life: a pending enrolment is no
// factor, a confirmation happens once, each step is consumed once (also
// by parallel callers), and removal takes the recovery codes and second
// steps with it.
func testTOTP(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	if _, ok, err := s.TOTPFactor(ctx, "u1"); err != nil || ok {
		t.Fatalf("TOTPFactor(none): got %t, %v", ok, err)
	}
	if err := s.PutPendingTOTP(ctx, "u1", []byte("sealed-1"), now); err != nil {
		t.Fatal(err)
	}
	// Restarting a pending enrolment replaces its secret.
	if err := s.PutPendingTOTP(ctx, "u1", []byte("sealed-2"), now); err != nil {
		t.Fatal(err)
	}
	f, ok, err := s.TOTPFactor(ctx, "u1")
	if err != nil || !ok || f.ConfirmedAt != nil || !bytes.Equal(f.SecretSealed, []byte("sealed-2")) {
		t.Fatalf("TOTPFactor(pending): got %+v, %t, %v", f, ok, err)
	}
	// A pending enrolment accepts no code.
	if ok, err := s.ConsumeTOTPStep(ctx, "u1", 100, now); err != nil || ok {
		t.Errorf("ConsumeTOTPStep(pending): got %t, %v, want false", ok, err)
	}
	if err := s.ConfirmTOTP(ctx, "u1", 100, []string{"h1", "h2"}, now); err != nil {
		t.Fatal(err)
	}
	err = s.ConfirmTOTP(ctx, "u1", 101, []string{"h3"}, now)
	wantErr(t, "ConfirmTOTP(twice)", err, storage.ErrConflict)
	err = s.PutPendingTOTP(ctx, "u1", []byte("sealed-3"), now)
	wantErr(t, "PutPendingTOTP(confirmed)", err, storage.ErrConflict)
	f, _, _ = s.TOTPFactor(ctx, "u1")
	if f.ConfirmedAt == nil || f.LastStep != 100 || !bytes.Equal(f.SecretSealed, []byte("sealed-2")) {
		t.Errorf("TOTPFactor(confirmed): got %+v", f)
	}
	for _, step := range []int64{99, 100} {
		if ok, err := s.ConsumeTOTPStep(ctx, "u1", step, now); err != nil || ok {
			t.Errorf("ConsumeTOTPStep(%d, not after the last): got %t, %v, want false", step, ok, err)
		}
	}
	// Parallel callers with one fresh step: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := s.ConsumeTOTPStep(ctx, "u1", 101, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("parallel ConsumeTOTPStep(101): %d won, want 1", wins.Load())
	}

	if n, err := s.RecoveryCodesLeft(ctx, "u1"); err != nil || n != 2 {
		t.Errorf("RecoveryCodesLeft: got %d, %v, want 2", n, err)
	}
	if err := s.CreateSecondStep(ctx, models.SecondStep{IDHash: "st", UserID: "u1", ReturnTo: "/account", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	removed, err := s.DeleteTOTP(ctx, "u1")
	if err != nil || !removed {
		t.Fatalf("DeleteTOTP: got %t, %v", removed, err)
	}
	if _, ok, _ := s.TOTPFactor(ctx, "u1"); ok {
		t.Error("factor after DeleteTOTP: still there")
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "u1"); n != 0 {
		t.Errorf("recovery codes after DeleteTOTP: got %d, want 0", n)
	}
	if _, ok, _ := s.SecondStep(ctx, "st"); ok {
		t.Error("second step after DeleteTOTP: still there")
	}
	if removed, err := s.DeleteTOTP(ctx, "u1"); err != nil || removed {
		t.Errorf("DeleteTOTP(again): got %t, %v, want false", removed, err)
	}
}

// testRecoveryCodes covers that each recovery code is spent once, by one
// of parallel callers, and only for its user.
func testRecoveryCodes(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	if err := s.ReplaceRecoveryCodes(ctx, "u1", []string{"a", "b", "c"}, now); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.UseRecoveryCode(ctx, "u2", "a", now); err != nil || ok {
		t.Errorf("UseRecoveryCode(another user's): got %t, %v, want false", ok, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := s.UseRecoveryCode(ctx, "u1", "a", now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("parallel UseRecoveryCode: %d won, want 1", wins.Load())
	}
	if spent, err := s.RecoveryCodeSpent(ctx, "u1", "a"); err != nil || !spent {
		t.Errorf("RecoveryCodeSpent(a): got %t, %v, want true", spent, err)
	}
	if spent, _ := s.RecoveryCodeSpent(ctx, "u1", "b"); spent {
		t.Error("RecoveryCodeSpent(b, unused): got true")
	}
	if n, err := s.RecoveryCodesLeft(ctx, "u1"); err != nil || n != 2 {
		t.Errorf("RecoveryCodesLeft: got %d, %v, want 2", n, err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "u1", []string{"d"}, now); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UseRecoveryCode(ctx, "u1", "b", now); ok {
		t.Error("a replaced code still works")
	}
	// Deleting the user takes the factor and codes with it.
	if err := s.PutPendingTOTP(ctx, "u1", []byte("x"), now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.RecoveryCode{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("recovery codes of a deleted user: %d", n)
	}
	if n := count(t, s, &models.TOTPFactor{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("totp factor of a deleted user: %d", n)
	}
}

// testSecondSteps covers the second step's rows: found expired or not,
// ended once, pruned after expiry; and a session's amr.
func testSecondSteps(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	live := models.SecondStep{IDHash: "live", UserID: "u1", ClientID: "app", ReturnTo: "/oauth2/authorize?x=1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	old := models.SecondStep{IDHash: "old", UserID: "u1", ReturnTo: "/account", Enrol: true, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
	for _, st := range []models.SecondStep{live, old} {
		if err := s.CreateSecondStep(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "CreateSecondStep(same hash)", s.CreateSecondStep(ctx, live), storage.ErrConflict)
	got, ok, err := s.SecondStep(ctx, "old")
	if err != nil || !ok || !got.Enrol || got.UserID != "u1" || !got.ExpiresAt.Equal(old.ExpiresAt) {
		t.Errorf("SecondStep(old): got %+v, %t, %v", got, ok, err)
	}
	if err := s.SetSecondStepState(ctx, "live", "challenge"); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.SecondStep(ctx, "live")
	if got.State != "challenge" || got.ClientID != "app" || got.ReturnTo != live.ReturnTo {
		t.Errorf("SecondStep(live): got %+v", got)
	}
	if err := s.SetSecondStepState(ctx, "gone", "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetSecondStepState(gone): got %v, want ErrNotFound", err)
	}
	if n, err := s.DeleteExpiredSecondSteps(ctx, now); err != nil || n != 1 {
		t.Errorf("DeleteExpiredSecondSteps: got %d, %v, want 1", n, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if won, err := s.DeleteSecondStep(ctx, "live"); err == nil && won {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("parallel DeleteSecondStep: %d won, want 1", wins.Load())
	}

	if err := s.CreateSession(ctx, models.LoginSession{IDHash: "sess", UserID: "u1", AuthTime: now, ExpiresAt: now.Add(time.Hour), AMR: "pwd"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionAMR(ctx, "sess", "pwd otp mfa"); err != nil {
		t.Fatal(err)
	}
	in, ok, err := s.SessionForClient(ctx, "sess", "app", now)
	if err != nil || !ok || in.Session.AMR != "pwd otp mfa" {
		t.Errorf("SessionForClient amr: got %+v, %t, %v", in.Session, ok, err)
	}
	if err := s.SetUserRequireMFA(ctx, "u1", true); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.UserByID(ctx, "u1"); !u.RequireMFA {
		t.Error("SetUserRequireMFA: not set")
	}
	wantErr(t, "SetUserRequireMFA(unknown)", s.SetUserRequireMFA(ctx, "nobody", true), storage.ErrNotFound)
}
