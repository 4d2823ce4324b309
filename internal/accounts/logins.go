package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Methods lists every login-history method, the filters of the CLI and the
// admin API accept exactly these.
func Methods() []string {
	return []string{MethodPasswordGrant, MethodPasswordGrantRefresh, MethodLoginPage, MethodPasskey, MethodDevice, MethodAppPassword}
}

// LegacyMethods lists the login-history methods that are a use of the
// legacy grant: the migration report, the sunset notices and the workbench
// count exactly these. An app password is a use of the legacy grant too
// (the sunset ends it with the rest), under its own method.
func LegacyMethods() []string {
	return []string{MethodPasswordGrant, MethodPasswordGrantRefresh, MethodAppPassword}
}

// Login methods and results, as stored in LoginEvent; the one list lives
// with the sign-in core.
const (
	MethodPasswordGrant = signin.MethodPasswordGrant
	// MethodPasswordGrantRefresh is a successful refresh of a grant the
	// password grant began: legacy use, though no password was sent.
	MethodPasswordGrantRefresh = "password_grant_refresh"
	MethodLoginPage            = signin.MethodLoginPage
	MethodPasskey              = signin.MethodPasskey
	MethodDevice               = signin.MethodDevice
	// MethodAppPassword is the password grant with an app password.
	MethodAppPassword     = signin.MethodAppPassword
	ResultSuccess         = signin.ResultSuccess
	ResultInvalidPassword = signin.ResultInvalidPassword
	ResultLockout         = signin.ResultLockout
	ResultUnknownUser     = signin.ResultUnknownUser
)

// Column sizes of models.LoginEvent.
const (
	maxEventUserID    = 64
	maxEventUsername  = 200
	maxEventClientID  = 64
	maxEventSourceIP  = 64
	maxEventMethod    = 32
	maxEventResult    = 64
	maxEventUserAgent = 512
	// maxEventAppPassword counts bytes; names are at most 100 characters
	// (apppasswords.MaxName), so a long UTF-8 name is cut here.
	maxEventAppPassword = 100
)

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// and replaces invalid UTF-8 so PostgreSQL accepts it.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RecordLogin writes one login attempt. A zero Time means now; the
// username is stored in its canonical lower-case form and fields longer
// than their columns (they may come from untrusted input) are cut.
func (s *Service) RecordLogin(ctx context.Context, e models.LoginEvent) error {
	if e.Method == "" || e.Result == "" {
		return errors.New("record login: method and result are required")
	}
	e.ID = 0
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	e.UserID = truncate(e.UserID, maxEventUserID)
	e.Username = truncate(normalizeUsername(e.Username), maxEventUsername)
	e.ClientID = truncate(e.ClientID, maxEventClientID)
	e.SourceIP = truncate(e.SourceIP, maxEventSourceIP)
	e.Method = truncate(e.Method, maxEventMethod)
	e.Result = truncate(e.Result, maxEventResult)
	e.UserAgent = truncate(e.UserAgent, maxEventUserAgent)
	e.AppPassword = truncate(e.AppPassword, maxEventAppPassword)
	if err := s.store.RecordLogin(ctx, &e); err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

// LoginFilter selects login events. Empty fields match everything; Since
// is inclusive and Until exclusive. The username matches in any case.
type LoginFilter = storage.LoginFilter

// ListLogins returns one page of the events matching f, newest first, and
// the number of events matching f.
func (s *Service) ListLogins(ctx context.Context, f LoginFilter) ([]models.LoginEvent, int64, error) {
	if f.Username != "" {
		f.Username = normalizeUsername(f.Username)
	}
	f.Limit = clampLimit(f.Limit)
	out, total, err := s.store.ListLogins(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list logins: %w", err)
	}
	return out, total, nil
}

// PruneLogins deletes the events older than olderThan and returns how many.
func (s *Service) PruneLogins(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := s.store.PruneLogins(ctx, olderThan)
	if err != nil {
		return 0, fmt.Errorf("prune logins: %w", err)
	}
	return n, nil
}

// LegacyUsage is how often one user used one client's legacy password
// grant: sign-ins with it and refreshes of the grants it began.
type LegacyUsage struct {
	ClientID   string
	ClientName string // empty if the client no longer exists
	// Sunset is the client's LegacySunset, if set.
	Sunset   *time.Time
	UserID   string
	Username string
	Count    int64
	LastUsed time.Time
}

// LegacyReport lists, per client and user, the legacy uses and the last
// one, most recently used first. A use is a successful password grant or a
// successful refresh of a grant one began: a client that only refreshes is
// still on the legacy grant.
func (s *Service) LegacyReport(ctx context.Context) ([]LegacyUsage, error) {
	type key struct{ client, user string }
	index := map[key]int{}
	var out []LegacyUsage
	for _, method := range LegacyMethods() {
		counts, err := s.store.CountLogins(ctx, method, ResultSuccess)
		if err != nil {
			return nil, fmt.Errorf("legacy report: %w", err)
		}
		for _, c := range counts {
			k := key{c.ClientID, c.UserID}
			i, seen := index[k]
			if !seen {
				index[k] = len(out)
				out = append(out, LegacyUsage{ClientID: c.ClientID, UserID: c.UserID, Username: c.Username, Count: c.Count, LastUsed: c.Last})
				continue
			}
			out[i].Count += c.Count
			if c.Last.After(out[i].LastUsed) {
				out[i].LastUsed = c.Last
			}
		}
	}
	if out == nil {
		out = []LegacyUsage{}
	}
	if err := s.fillLegacyNames(ctx, out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b LegacyUsage) int {
		if c := b.LastUsed.Compare(a.LastUsed); c != 0 {
			return c
		}
		if c := strings.Compare(a.ClientID, b.ClientID); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	return out, nil
}

// fillLegacyNames adds client names, sunsets and current usernames.
func (s *Service) fillLegacyNames(ctx context.Context, out []LegacyUsage) error {
	if len(out) == 0 {
		return nil
	}
	var clientIDs, userIDs []string
	for _, u := range out {
		clientIDs = append(clientIDs, u.ClientID)
		userIDs = append(userIDs, u.UserID)
	}
	slices.Sort(clientIDs)
	slices.Sort(userIDs)
	clients, err := s.store.ClientsByID(ctx, slices.Compact(clientIDs))
	if err != nil {
		return fmt.Errorf("legacy report: %w", err)
	}
	users, err := s.store.UsersByID(ctx, slices.Compact(userIDs))
	if err != nil {
		return fmt.Errorf("legacy report: %w", err)
	}
	byClient := make(map[string]models.Client, len(clients))
	for _, c := range clients {
		byClient[c.ID] = c
	}
	byUser := make(map[string]string, len(users))
	for _, u := range users {
		byUser[u.ID] = u.Username
	}
	for i := range out {
		if c, ok := byClient[out[i].ClientID]; ok {
			out[i].ClientName = c.Name
			if c.LegacySunset != nil {
				t := c.LegacySunset.UTC()
				out[i].Sunset = &t
			}
		}
		if name, ok := byUser[out[i].UserID]; ok {
			out[i].Username = name
		}
	}
	return nil
}

// DayCount is the number of successful sign-ins on one UTC day.
type DayCount struct {
	Day    time.Time // UTC midnight
	Legacy int64     // legacy password grants (app passwords too) and refreshes of their grants
	OAuth  int64     // login page sign-ins
}

// DailyLogins counts successful sign-ins per UTC day from since's day up to
// today (or the last event, if later), one entry per day including days
// without any. The bucketing is done in Go because SQLite and PostgreSQL
// disagree on date functions.
func (s *Service) DailyLogins(ctx context.Context, since time.Time) ([]DayCount, error) {
	counts := map[time.Time]*DayCount{}
	var first, last time.Time
	err := s.store.EachLoginTime(ctx, ResultSuccess, []string{MethodPasswordGrant, MethodPasswordGrantRefresh, MethodAppPassword, MethodLoginPage}, since, func(at time.Time, method string) {
		day := utcDay(at)
		c := counts[day]
		if c == nil {
			c = &DayCount{Day: day}
			counts[day] = c
		}
		if method == MethodPasswordGrant || method == MethodPasswordGrantRefresh || method == MethodAppPassword {
			c.Legacy++
		} else {
			c.OAuth++
		}
		if first.IsZero() || day.Before(first) {
			first = day
		}
		if day.After(last) {
			last = day
		}
	})
	if err != nil {
		return nil, fmt.Errorf("daily logins: %w", err)
	}
	if !since.IsZero() {
		first = utcDay(since)
	}
	if today := utcDay(s.now()); last.Before(today) {
		last = today
	}
	if first.IsZero() {
		return []DayCount{}, nil
	}
	var out []DayCount
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		if c := counts[d]; c != nil {
			out = append(out, *c)
		} else {
			out = append(out, DayCount{Day: d})
		}
	}
	return out, nil
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
