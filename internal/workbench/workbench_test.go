package workbench_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/models"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func seed(t *testing.T, db *gorm.DB) *storage.Store {
	t.Helper()
	st := storage.New(db)
	ctx := t.Context()
	sunset := now.AddDate(0, 1, 0)
	for _, c := range []models.Client{
		{ID: "cli", Name: "Deploy CLI", GrantTypes: []string{"password", "refresh_token"}, LegacySunset: &sunset},
		{ID: "etl", Name: "Nightly ETL", GrantTypes: []string{"password"}},
		{ID: "odbc", Name: "Report Connector", GrantTypes: []string{"password"}},
		{ID: "idle", Name: "Idle Tool", GrantTypes: []string{"password"}},
		{ID: "web", Name: "Web", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://web.example.com/cb"}},
		{ID: "gone", Name: "Switched off", GrantTypes: []string{"client_credentials"}},
	} {
		c.AccessTokenFormat = "opaque"
		if err := st.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddTrustedRange(ctx, &models.TrustedRange{CIDR: "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	b := models.ClientBrownout{ClientID: "cli", StartsAt: now.AddDate(0, 0, 7), EndsAt: now.AddDate(0, 0, 7).Add(time.Hour), CreatedBy: "t", CreatedAt: now}
	if err := st.CreateBrownout(ctx, &b); err != nil {
		t.Fatal(err)
	}
	ev := func(ago time.Duration, user, client, method, ua, ip string) {
		t.Helper()
		e := models.LoginEvent{Time: now.Add(-ago), UserID: "u-" + user, Username: user, ClientID: client, Method: method, Result: "Success", UserAgent: ua, SourceIP: ip}
		if err := st.RecordLogin(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	h := time.Hour
	// Three people on a command-line tool, from several networks.
	ev(2*h, "ana", "cli", "password_grant", "deploy-cli/2.1 curl/8.0", "192.0.2.10")
	ev(1*h, "ana", "cli", "password_grant_refresh", "deploy-cli/2.1 curl/8.0", "192.0.2.10")
	ev(3*h, "ben", "cli", "password_grant", "deploy-cli/2.1 curl/8.0", "10.1.2.3")
	ev(30*24*h, "cai", "cli", "password_grant", "deploy-cli/2.0 curl/7.9", "2001:db8:1:2::5")
	// One account, one network, a service's own client.
	for i := range 5 {
		ev(time.Duration(i+1)*24*h, "svc-etl", "etl", "password_grant", "etl-runner/1.0", "198.51.100.20")
	}
	// A driver that can only send a password.
	ev(5*h, "dora", "odbc", "password_grant", "Java/17.0.2", "203.0.113.4")
	// Long ago: outside every look-back used here.
	ev(200*24*h, "old", "idle", "password_grant", "curl/8.0", "192.0.2.99")
	// A switched-off client still shows what it was used for.
	ev(4*h, "eve", "gone", "password_grant", "=cmd|' /C calc'!A0", "192.0.2.50")
	// Not legacy use.
	ev(h, "ana", "web", "login_page", "Firefox", "192.0.2.10")
	return st
}

func service(st *storage.Store) *workbench.Service {
	return workbench.New(st, workbench.Options{
		PasswordMethod: "password_grant", RefreshMethod: "password_grant_refresh", Success: "Success",
		Now: func() time.Time { return now },
	})
}

func TestReport(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		st := seed(t, db)
		r, err := service(st).Report(t.Context(), 90)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]workbench.ClientReport{}
		var order []string
		for _, c := range r.Clients {
			byID[c.ClientID] = c
			order = append(order, c.ClientID)
		}
		// Most used first; the web client is no legacy client.
		if want := []string{"etl", "cli", "odbc", "gone", "idle"}; !slices.Equal(order, want) {
			t.Errorf("clients: got %v, want %v", order, want)
		}

		cli := byID["cli"]
		if len(cli.Users) != 3 || cli.Users[0].Username != "ana" || cli.Uses != 4 {
			t.Fatalf("cli users: %+v", cli.Users)
		}
		ana, ben := cli.Users[0], cli.Users[1]
		if !slices.Equal(ana.Via, []string{"refresh", "security_token"}) || !slices.Equal(ana.Networks, []string{"192.0.2.0/24"}) || !ana.LastUsed.Equal(now.Add(-time.Hour)) {
			t.Errorf("ana: %+v", ana)
		}
		if !slices.Equal(ben.Via, []string{"trusted_range"}) {
			t.Errorf("ben came from a trusted range: via %v", ben.Via)
		}
		if cai := cli.Users[2]; !slices.Equal(cai.Networks, []string{"2001:db8:1:2::/64"}) {
			t.Errorf("cai's network: %v, want the IPv6 /64", cai.Networks)
		}
		if len(cli.UserAgents) != 2 || cli.UserAgents[0].Value != "deploy-cli/2.1 curl/8.0" || cli.UserAgents[0].Count != 3 {
			t.Errorf("cli user agents: %+v", cli.UserAgents)
		}
		if len(cli.Brownouts) != 1 || cli.Sunset == nil {
			t.Errorf("cli brownouts %+v, sunset %v", cli.Brownouts, cli.Sunset)
		}

		for id, want := range map[string]string{
			"cli":  workbench.WayDeviceFlow,
			"etl":  workbench.WayClientCredentials,
			"odbc": workbench.WayAppPasswords,
			"idle": workbench.WayTurnOff,
		} {
			c := byID[id]
			if c.Suggestion.Way != want || c.Suggestion.Reason == "" {
				t.Errorf("%s: suggestion %+v, want %s", id, c.Suggestion, want)
			}
			if len(c.Actions) == 0 || c.Actions[0].Name != c.Suggestion.Action {
				t.Errorf("%s: actions %+v, want the suggested %s first", id, c.Actions, c.Suggestion.Action)
			}
		}
		for _, a := range byID["odbc"].Actions {
			if a.Name == workbench.ActionRequireAppPasswords && (!a.Available || a.Note != "") {
				t.Errorf("require app passwords: %+v, want available", a)
			}
			if a.Name == workbench.ActionSendNotices && a.Available {
				t.Errorf("send notices without a sunset: %+v", a)
			}
		}

		// A shorter look-back leaves cai (30 days ago) out.
		r, err = service(st).Report(t.Context(), 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Clients {
			if c.ClientID == "cli" && len(c.Users) != 2 {
				t.Errorf("cli over 7 days: %d users, want 2", len(c.Users))
			}
		}
		for _, bad := range []int{0, -1, 367} {
			if _, err := service(st).Report(t.Context(), bad); err == nil {
				t.Errorf("Report(%d days): want an error", bad)
			}
		}
	})
}

func TestDryRunCSV(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		st := seed(t, db)
		rows, err := service(st).DryRun(t.Context(), 30)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range rows {
			got = append(got, b.ClientID+"/"+b.Username)
		}
		slices.Sort(got)
		// cai (30 days ago, at the edge) counts; eve's client no longer holds
		// the grant, so nothing of it would break.
		if want := []string{"cli/ana", "cli/ben", "cli/cai", "etl/svc-etl", "odbc/dora"}; !slices.Equal(got, want) {
			t.Errorf("dry run: got %v, want %v", got, want)
		}
		var buf bytes.Buffer
		if err := workbench.WriteCSV(&buf, rows); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], workbench.CSVHeader) || len(recs) != len(rows)+1 {
			t.Fatalf("CSV: header %v and %d rows", recs[0], len(recs)-1)
		}
		for _, rec := range recs[1:] {
			if rec[3] == "ana" && (rec[5] != now.Add(-time.Hour).Format(time.RFC3339) || rec[8] != "refresh; security_token") {
				t.Errorf("ana's row: %v", rec)
			}
		}
	})
}

// A cell a spreadsheet would run as a formula is defused.
func TestCSVDefusesFormulas(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	err := workbench.WriteCSV(&buf, []workbench.Breakage{{ClientID: "c", ClientName: "+SUM(A1)", Username: "@evil", UserAgents: []string{"=cmd|' /C calc'!A0"}, LastUsed: now}})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(&buf).ReadAll()
	for _, cell := range recs[1] {
		if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
			t.Errorf("cell %q would run as a formula", cell)
		}
	}
}

// App-password uses are their own method: a user seen only with an app
// password is no password user to move, and a client whose users all use
// app passwords is offered to require them.
func TestAppPasswordUses(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		st := storage.New(db)
		ctx := t.Context()
		mk := func(id, creds string) {
			c := models.Client{ID: id, Name: id, GrantTypes: []string{"password"}, AccessTokenFormat: "opaque", LegacyCredentials: creds}
			if err := st.CreateClient(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		mk("mailer", models.LegacyBoth)
		mk("strict", models.LegacyAppPassword)
		mk("mixed", models.LegacyBoth)
		ev := func(user, client, method string) {
			e := models.LoginEvent{Time: now.Add(-time.Hour), UserID: "u-" + user, Username: user, ClientID: client, Method: method, Result: "Success", UserAgent: "mailer/1", SourceIP: "192.0.2.1"}
			if err := st.RecordLogin(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}
		ev("ana", "mailer", "app_password")
		ev("ben", "strict", "app_password")
		ev("ana", "mixed", "app_password")
		ev("cai", "mixed", "password_grant")
		svc := workbench.New(st, workbench.Options{
			PasswordMethod: "password_grant", RefreshMethod: "password_grant_refresh", AppPasswordMethod: "app_password", Success: "Success",
			Now: func() time.Time { return now },
		})
		r, err := svc.Report(ctx, 30)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]workbench.ClientReport{}
		for _, c := range r.Clients {
			byID[c.ClientID] = c
		}
		m := byID["mailer"]
		if m.ToMove != 0 || len(m.Users) != 1 || m.Users[0].ToMove || !slices.Equal(m.Users[0].Via, []string{workbench.ViaAppPassword}) {
			t.Errorf("mailer: to move %d, users %+v; want ana via app_password, nobody to move", m.ToMove, m.Users)
		}
		if m.Suggestion.Action != workbench.ActionRequireAppPasswords || m.Actions[0].Name != workbench.ActionRequireAppPasswords || !m.Actions[0].Available {
			t.Errorf("mailer: suggestion %+v, first action %+v; want require app passwords, available", m.Suggestion, m.Actions[0])
		}
		for _, a := range byID["strict"].Actions {
			if a.Name == workbench.ActionRequireAppPasswords && (a.Available || a.Note == "") {
				t.Errorf("strict: require app passwords %+v, want unavailable with a note (done already)", a)
			}
		}
		if mixed := byID["mixed"]; mixed.ToMove != 1 || mixed.Uses != 2 {
			t.Errorf("mixed: to move %d of %d uses, want 1 (cai) of 2", mixed.ToMove, mixed.Uses)
		}
	})
}
