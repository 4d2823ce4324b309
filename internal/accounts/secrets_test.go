package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// rawRows returns every value of every row of table as bytes.
func rawRows(t *testing.T, db *gorm.DB, table string) [][]byte {
	t.Helper()
	rows, err := db.Raw("SELECT * FROM " + table).Rows()
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				out = append(out, v)
			default:
				out = append(out, []byte(fmt.Sprint(v)))
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoPlaintextSecretsStored(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		secrets := map[string]string{}
		u := f.mustCreate(t, "olga", "Olga-First-Password-1")
		secrets["first password"] = "Olga-First-Password-1"
		secrets["token at creation"] = f.lastToken(t)
		if err := f.svc.ResetToken(ctx, "olga", "olga", true); err != nil {
			t.Fatal(err)
		}
		secrets["token after reset"] = f.lastToken(t)
		if err := f.svc.SetPassword(ctx, "admin", "olga", "Olga-Second-Password-2"); err != nil {
			t.Fatal(err)
		}
		secrets["second password"] = "Olga-Second-Password-2"
		secrets["token after set password"] = f.lastToken(t)
		if err := f.svc.ChangeOwnPassword(ctx, u.ID, "", "Olga-Second-Password-2", "Olga-Third-Password-3"); err != nil {
			t.Fatal(err)
		}
		secrets["third password"] = "Olga-Third-Password-3"
		secrets["token after own change"] = f.lastToken(t)
		if o, err := f.svc.Attempt(ctx, signin.Request{Channel: signin.LoginPage, Subject: signin.Subject{Username: "olga"}, Secret: "Olga-Wrong-Password-4"}); err != nil || o.OK() {
			t.Fatalf("Attempt(wrong) = %+v, %v", o, err)
		}
		secrets["wrong password"] = "Olga-Wrong-Password-4"
		if n := len(f.outbox(t)); n != 4 {
			t.Fatalf("outbox rows = %d, want 4", n)
		}

		for _, table := range []string{"users", "security_token_histories", "audit_entries", "mail_messages", "login_events"} {
			for _, v := range rawRows(t, db, table) {
				for what, s := range secrets {
					if bytes.Contains(v, []byte(s)) {
						t.Errorf("table %s holds the %s in plain text", table, what)
					}
				}
			}
		}
		// On SQLite, also read the database file and its write-ahead log.
		if db.Dialector.Name() == "sqlite" {
			var dbs []struct {
				Seq  int
				Name string
				File string
			}
			if err := db.Raw("PRAGMA database_list").Scan(&dbs).Error; err != nil || len(dbs) == 0 || dbs[0].File == "" {
				t.Fatalf("PRAGMA database_list = %+v, %v", dbs, err)
			}
			for _, path := range []string{dbs[0].File, dbs[0].File + "-wal"} {
				raw, err := os.ReadFile(path)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for what, s := range secrets {
					if bytes.Contains(raw, []byte(s)) {
						t.Errorf("file %s holds the %s in plain text", path, what)
					}
				}
			}
		}
		// Nor in the logs.
		logs := f.logs.String()
		if !strings.Contains(logs, "security token issued") {
			t.Errorf("logs lack the token issue events, want them (without the token):\n%s", logs)
		}
		for what, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("logs hold the %s", what)
			}
		}
	})
}

// sequence returns a generator that yields toks in order, then fresh tokens.
func sequence(toks ...string) func() (string, error) {
	return func() (string, error) {
		if len(toks) == 0 {
			return GenerateToken()
		}
		t := toks[0]
		toks = toks[1:]
		return t, nil
	}
}

func TestTokenNeverIssuedTwice(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		rita := f.mustCreate(t, "rita", "rita-password")
		ritaToken := f.lastToken(t)
		sam := f.mustCreate(t, "sam", "sam-password")
		samOld := f.lastToken(t)
		if err := f.svc.ResetToken(ctx, "admin", "sam", false); err != nil {
			t.Fatal(err)
		}
		// A token held by a user but missing from the history (say, imported
		// data): only the users' unique index knows it.
		orphan := "Orphan0Token0Held0By0Tom"
		tom := f.mustCreate(t, "tom", "tom-password")
		if err := db.Model(&models.User{}).Where("id = ?", tom.ID).Update("security_token_hash", f.svc.tokenHash(orphan)).Error; err != nil {
			t.Fatal(err)
		}

		// The next draws repeat Rita's current token, Sam's retired one and
		// Tom's orphan; the reset must skip all three.
		f.svc.generate = sequence(ritaToken, samOld, orphan)
		uma := f.mustCreate(t, "uma", "uma-password")
		umaToken := f.lastToken(t)
		for _, old := range []string{ritaToken, samOld, orphan} {
			if umaToken == old {
				t.Fatalf("uma got a token issued before (%s)", old)
			}
		}
		if !f.svc.TokenMatches(f.reload(t, uma.ID), umaToken) {
			t.Errorf("uma's emailed token does not match her")
		}
		if !f.svc.TokenMatches(f.reload(t, rita.ID), ritaToken) || !f.svc.TokenMatches(f.reload(t, tom.ID), orphan) {
			t.Errorf("the collisions changed another user's token")
		}
		var dup int64
		if err := db.Raw("SELECT COUNT(*) FROM (SELECT security_token_hash FROM users GROUP BY security_token_hash HAVING COUNT(*) > 1) d").Scan(&dup).Error; err != nil {
			t.Fatal(err)
		}
		if dup != 0 {
			t.Errorf("%d token hashes are shared by several users, want 0", dup)
		}

		// Same for a reset of an existing user.
		f.svc.generate = sequence(umaToken, samOld)
		if err := f.svc.ResetToken(ctx, "admin", "sam", false); err != nil {
			t.Fatalf("ResetToken with colliding draws: %v", err)
		}
		if tok := f.lastToken(t); tok == umaToken || tok == samOld || !f.svc.TokenMatches(f.reload(t, sam.ID), tok) {
			t.Errorf("sam's new token %q collides or does not match", tok)
		}

		// A generator that only repeats gives up with an error that names no token.
		before := len(f.outbox(t))
		f.svc.generate = func() (string, error) { return samOld, nil }
		err := f.svc.ResetToken(ctx, "admin", "rita", false)
		if err == nil {
			t.Fatal("ResetToken with only used tokens = nil, want an error")
		}
		if strings.Contains(err.Error(), samOld) {
			t.Errorf("error %q contains the token", err)
		}
		if after := len(f.outbox(t)); after != before {
			t.Errorf("outbox grew from %d to %d on a failed reset", before, after)
		}
		if !f.svc.TokenMatches(f.reload(t, rita.ID), ritaToken) {
			t.Errorf("a failed reset changed rita's token")
		}
		f.svc.generate = func() (string, error) { return "", errors.New("no entropy") }
		if _, err := f.svc.CreateUser(ctx, "admin", NewUser{Username: "vic", Email: "vic@example.com", Password: "vic-password"}); err == nil {
			t.Errorf("CreateUser with a failing generator = nil, want an error")
		}
		if _, err := f.svc.GetUser(ctx, "vic"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(vic) after a failed create = %v, want ErrNotFound", err)
		}
	})
}

func TestTokenEmailSunsetLines(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Organization: "Initech"})
		ctx := t.Context()
		soon := time.Date(2030, 9, 1, 0, 0, 0, 0, time.UTC)
		past := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		later := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, c := range []models.Client{
			{ID: "loader", Name: "Data Loader", LegacySunset: &soon},
			{ID: "old-sync", Name: "Old Sync", LegacySunset: &past},
			{ID: "modern", Name: "Modern App"},                          // no sunset
			{ID: "failing", Name: "Failing Tool", LegacySunset: &later}, // used, but never successfully
			{ID: "web", Name: "Web Portal", LegacySunset: &later},       // only through the login page
		} {
			if err := db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
		}
		walt := f.mustCreate(t, "walt", "walt-password")
		xena := f.mustCreate(t, "xena", "xena-password")
		add := func(u models.User, client, method, result string) {
			t.Helper()
			if err := f.svc.RecordLogin(ctx, models.LoginEvent{UserID: u.ID, Username: u.Username, ClientID: client, Method: method, Result: result}); err != nil {
				t.Fatal(err)
			}
		}
		add(walt, "loader", MethodPasswordGrant, ResultSuccess)
		add(walt, "loader", MethodPasswordGrant, ResultSuccess)
		add(walt, "old-sync", MethodPasswordGrant, ResultSuccess)
		add(walt, "modern", MethodPasswordGrant, ResultSuccess)
		add(walt, "failing", MethodPasswordGrant, ResultInvalidPassword)
		add(walt, "web", MethodLoginPage, ResultSuccess)
		add(xena, "failing", MethodPasswordGrant, ResultSuccess) // another user's use

		if err := f.svc.ResetToken(ctx, "walt", "walt", true); err != nil {
			t.Fatal(err)
		}
		mails := f.outbox(t)
		m := mails[len(mails)-1]
		if m.Subject != "Initech security token confirmation" {
			t.Errorf("Subject = %q, want %q", m.Subject, "Initech security token confirmation")
		}
		for _, want := range []string{
			"- Old Sync (old-sync): its legacy password grant ended on 2030-01-01 00:00:00 UTC; move it to OAuth sign-in.\n",
			"- Data Loader (loader): its legacy password grant ends on 2030-09-01 00:00:00 UTC; move it to OAuth sign-in.\n",
		} {
			if strings.Count(m.Body, want) != 1 {
				t.Errorf("email body has %q %d times, want once:\n%s", strings.TrimSpace(want), strings.Count(m.Body, want), m.Body)
			}
		}
		if strings.Index(m.Body, "Old Sync") > strings.Index(m.Body, "Data Loader") {
			t.Errorf("sunset lines out of order, want the earliest sunset first")
		}
		for _, unwanted := range []string{"Modern App", "Failing Tool", "Web Portal"} {
			if strings.Contains(m.Body, unwanted) {
				t.Errorf("email body mentions %s, want only clients with a sunset that walt used with the legacy grant", unwanted)
			}
		}
		if got := strings.Count(m.Body, "legacy password grant"); got != 2 {
			t.Errorf("sunset lines = %d, want 2", got)
		}
		tokenIn(t, m.Body)
	})
}
