package accounts

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestAuthenticateLoginLockout(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{LockoutThreshold: 3, LockoutDuration: 10 * time.Minute})
		ctx := t.Context()
		u := f.mustCreate(t, "judy", "judy-password")
		meta := signin.Request{Channel: signin.LoginPage, SourceIP: "203.0.113.7", UserAgent: "test-agent", ClientID: "portal"}
		login := func(username, pw string) signin.Outcome {
			t.Helper()
			req := meta
			req.Subject.Username, req.Secret = username, pw
			o, err := f.svc.Attempt(ctx, req)
			if err != nil {
				t.Fatalf("Attempt(%s): %v", username, err)
			}
			return o
		}

		for i := 1; i <= 2; i++ {
			if o := login("judy", "wrong-password"); o.Result != ResultInvalidPassword || o.LockedNow {
				t.Fatalf("failure %d: got %+v, want an invalid password that locks nothing", i, o)
			}
		}
		if got := f.reload(t, u.ID); got.LoginFailures != 2 || f.svc.IsLocked(got, ChannelLogin) {
			t.Fatalf("after 2 failures: LoginFailures %d, locked %t; want 2, false", got.LoginFailures, f.svc.IsLocked(got, ChannelLogin))
		}
		if o := login("judy", "wrong-password"); o.Result != ResultInvalidPassword || !o.LockedNow {
			t.Fatalf("third failure: got %+v, want an invalid password that locks", o)
		}
		got := f.reload(t, u.ID)
		if !f.svc.IsLocked(got, ChannelLogin) {
			t.Fatalf("login channel not locked after %d failures", 3)
		}
		if want := f.clock.Now().Add(10 * time.Minute); got.LoginLockedUntil == nil || !got.LoginLockedUntil.Equal(want) {
			t.Errorf("LoginLockedUntil = %v, want %v", got.LoginLockedUntil, want)
		}
		if f.svc.IsLocked(got, ChannelLegacy) || got.LegacyFailures != 0 {
			t.Errorf("legacy channel: locked %t, failures %d; want false, 0 (channels count separately)", f.svc.IsLocked(got, ChannelLegacy), got.LegacyFailures)
		}
		// The right password does not help while locked.
		if o := login("judy", "judy-password"); o.Result != ResultLockout {
			t.Fatalf("right password while locked: got %+v, want a lockout", o)
		}

		// After the lock runs out the right password works and resets the count.
		f.clock.Advance(10*time.Minute + time.Second)
		if got := f.reload(t, u.ID); f.svc.IsLocked(got, ChannelLogin) {
			t.Fatalf("still locked after the lockout duration")
		}
		if o := login("Judy", "judy-password"); !o.OK() || o.User.ID != u.ID {
			t.Fatalf("login after lock expiry = %+v, want judy signed in", o)
		}
		if got := f.reload(t, u.ID); got.LoginFailures != 0 || got.LoginLockedUntil != nil {
			t.Errorf("after success: LoginFailures %d, LoginLockedUntil %v; want 0, nil", got.LoginFailures, got.LoginLockedUntil)
		}

		// Success resets the count: 2 failures, success, 2 failures stays unlocked.
		for _, pw := range []string{"bad-1-password", "bad-2-password", "judy-password", "bad-3-password", "bad-4-password"} {
			login("judy", pw)
		}
		if got := f.reload(t, u.ID); got.LoginFailures != 2 || f.svc.IsLocked(got, ChannelLogin) {
			t.Errorf("after fail, fail, success, fail, fail: LoginFailures %d, locked %t; want 2, false", got.LoginFailures, f.svc.IsLocked(got, ChannelLogin))
		}

		if o := login("mallory", "whatever-password"); o.Result != ResultUnknownUser || o.User.ID != "" {
			t.Errorf("unknown user: got %+v, want an unknown user", o)
		}

		events, total, err := f.svc.ListLogins(ctx, LoginFilter{Method: MethodLoginPage, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			ResultInvalidPassword, ResultInvalidPassword, ResultInvalidPassword, ResultLockout, ResultSuccess,
			ResultInvalidPassword, ResultInvalidPassword, ResultSuccess, ResultInvalidPassword, ResultInvalidPassword,
			ResultUnknownUser,
		}
		if total != int64(len(want)) || len(events) != len(want) {
			t.Fatalf("login events = %d (total %d), want %d", len(events), total, len(want))
		}
		for i, w := range want {
			e := events[len(events)-1-i] // newest first
			if e.Result != w {
				t.Errorf("event %d result = %q, want %q", i, e.Result, w)
			}
			if e.Method != MethodLoginPage || e.SourceIP != meta.SourceIP || e.UserAgent != meta.UserAgent || e.ClientID != meta.ClientID {
				t.Errorf("event %d = %+v, want method login_page and the request metadata", i, e)
			}
			wantUser := u.ID
			if w == ResultUnknownUser {
				wantUser = ""
			}
			if e.UserID != wantUser {
				t.Errorf("event %d user_id = %q, want %q", i, e.UserID, wantUser)
			}
		}
		if events[0].Username != "mallory" || events[1].Username != "judy" {
			t.Errorf("usernames of the newest events = %q, %q; want mallory, judy", events[0].Username, events[1].Username)
		}
	})
}

func TestChannelsAndUnlock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{LockoutThreshold: 2, LockoutDuration: time.Hour})
		ctx := t.Context()
		u := f.mustCreate(t, "ken", "ken-password")

		for i, wantLocked := range []bool{false, true} {
			locked, err := f.svc.RecordFailure(ctx, u.ID, ChannelLegacy)
			if err != nil || locked != wantLocked {
				t.Fatalf("legacy failure %d: lockedNow %t, %v; want %t, nil", i+1, locked, err, wantLocked)
			}
		}
		got := f.reload(t, u.ID)
		if !f.svc.IsLocked(got, ChannelLegacy) || f.svc.IsLocked(got, ChannelLogin) {
			t.Fatalf("legacy locked %t, login locked %t; want true, false", f.svc.IsLocked(got, ChannelLegacy), f.svc.IsLocked(got, ChannelLogin))
		}
		// The login page still works while the legacy grant is locked.
		o, err := f.svc.Attempt(ctx, signin.Request{Channel: signin.LoginPage, Subject: signin.Subject{Username: "ken"}, Secret: "ken-password"})
		if err != nil || !o.OK() {
			t.Fatalf("login page while legacy locked = %+v, %v; want success", o, err)
		}
		// A success on the login page does not lift the legacy lock.
		if got := f.reload(t, u.ID); !f.svc.IsLocked(got, ChannelLegacy) {
			t.Errorf("a login-page success lifted the legacy lock, want it kept")
		}
		for range 2 {
			if _, err := f.svc.RecordFailure(ctx, u.ID, ChannelLogin); err != nil {
				t.Fatal(err)
			}
		}
		got = f.reload(t, u.ID)
		if !f.svc.IsLocked(got, ChannelLegacy) || !f.svc.IsLocked(got, ChannelLogin) {
			t.Fatalf("want both channels locked before Unlock")
		}

		if err := f.svc.Unlock(ctx, "admin", "KEN"); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		got = f.reload(t, u.ID)
		if f.svc.IsLocked(got, ChannelLegacy) || f.svc.IsLocked(got, ChannelLogin) ||
			got.LegacyFailures != 0 || got.LoginFailures != 0 || got.LegacyLockedUntil != nil || got.LoginLockedUntil != nil {
			t.Errorf("after Unlock: %+v, want both counters 0 and no locks", got)
		}
		if n := count(t, db, &models.AuditEntry{}, "action = ? AND target = ?", "user.unlock", "ken"); n != 1 {
			t.Errorf("user.unlock audit rows = %d, want 1", n)
		}
		if err := f.svc.Unlock(ctx, "admin", "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Unlock(nobody) = %v, want ErrNotFound", err)
		}
		if _, err := f.svc.RecordFailure(ctx, "no-such-id", ChannelLogin); !errors.Is(err, ErrNotFound) {
			t.Errorf("RecordFailure(unknown id) = %v, want ErrNotFound", err)
		}
		if _, err := f.svc.RecordFailure(ctx, u.ID, Channel(0)); err == nil {
			t.Errorf("RecordFailure(Channel(0)) = nil, want an error")
		}
		if !f.svc.IsLocked(got, Channel(99)) {
			t.Errorf("IsLocked(unknown channel) = false, want true (fail closed)")
		}

		// A failure after an expired lock starts a new count.
		for range 2 {
			_, _ = f.svc.RecordFailure(ctx, u.ID, ChannelLegacy)
		}
		f.clock.Advance(time.Hour)
		locked, err := f.svc.RecordFailure(ctx, u.ID, ChannelLegacy)
		if err != nil || locked {
			t.Fatalf("first failure after an expired lock: lockedNow %t, %v; want false, nil", locked, err)
		}
		if got := f.reload(t, u.ID); got.LegacyFailures != 1 || got.LegacyLockedUntil != nil || f.svc.IsLocked(got, ChannelLegacy) {
			t.Errorf("after an expired lock: LegacyFailures %d, LegacyLockedUntil %v; want 1, nil", got.LegacyFailures, got.LegacyLockedUntil)
		}
	})
}

// Parallel failures cannot pass the threshold: the count stops there and
// exactly one of them locks (storage.ReserveAttempt has the full test).
func TestRecordFailureConcurrent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{LockoutThreshold: 5})
		u := f.mustCreate(t, "leo", "leo-password")
		const n = 12
		var wg sync.WaitGroup
		results := make(chan bool, n)
		for range n {
			wg.Go(func() {
				locked, err := f.svc.RecordFailure(t.Context(), u.ID, ChannelLegacy)
				if err != nil {
					t.Errorf("RecordFailure: %v", err)
				}
				results <- locked
			})
		}
		wg.Wait()
		close(results)
		lockedNow := 0
		for r := range results {
			if r {
				lockedNow++
			}
		}
		if lockedNow != 1 {
			t.Errorf("calls reporting lockedNow = %d, want exactly 1", lockedNow)
		}
		if got := f.reload(t, u.ID); got.LegacyFailures != 5 || !f.svc.IsLocked(got, ChannelLegacy) {
			t.Errorf("LegacyFailures = %d, locked %t; want 5, true", got.LegacyFailures, f.svc.IsLocked(got, ChannelLegacy))
		}
	})
}
