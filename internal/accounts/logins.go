package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// Login methods and results, as stored in LoginEvent; the one list lives
// with the sign-in core.
const (
	MethodPasswordGrant   = signin.MethodPasswordGrant
	MethodLoginPage       = signin.MethodLoginPage
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
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

// LoginFilter selects login events. Empty fields match everything; Since
// is inclusive and Until exclusive.
type LoginFilter struct {
	UserID   string
	Username string
	ClientID string
	Result   string
	Method   string
	Since    time.Time
	Until    time.Time
	Limit    int
	Offset   int
}

// ListLogins returns one page of the events matching f, newest first, and
// the number of events matching f.
func (s *Service) ListLogins(ctx context.Context, f LoginFilter) ([]models.LoginEvent, int64, error) {
	q := s.db.WithContext(ctx).Model(&models.LoginEvent{})
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Username != "" {
		q = q.Where("username = ?", normalizeUsername(f.Username))
	}
	if f.ClientID != "" {
		q = q.Where("client_id = ?", f.ClientID)
	}
	if f.Result != "" {
		q = q.Where("result = ?", f.Result)
	}
	if f.Method != "" {
		q = q.Where("method = ?", f.Method)
	}
	if !f.Since.IsZero() {
		q = q.Where("time >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("time < ?", f.Until.UTC())
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("list logins: %w", err)
	}
	var out []models.LoginEvent
	err := q.Order("time DESC, id DESC").Limit(clampLimit(f.Limit)).Offset(max(f.Offset, 0)).Find(&out).Error
	if err != nil {
		return nil, 0, fmt.Errorf("list logins: %w", err)
	}
	return out, total, nil
}

// PruneLogins deletes the events older than olderThan and returns how many.
func (s *Service) PruneLogins(ctx context.Context, olderThan time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("time < ?", olderThan.UTC()).Delete(&models.LoginEvent{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune logins: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// LegacyUsage is how often one user signed in to one client with the
// legacy password grant.
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

// LegacyReport lists, per client and user, the successful legacy password
// grants and the last one, most recently used first.
func (s *Service) LegacyReport(ctx context.Context) ([]LegacyUsage, error) {
	rows, err := s.db.WithContext(ctx).Model(&models.LoginEvent{}).
		Select("client_id, user_id, MAX(username), COUNT(*), MAX(time)").
		Where("method = ? AND result = ?", MethodPasswordGrant, ResultSuccess).
		Group("client_id, user_id").Rows()
	if err != nil {
		return nil, fmt.Errorf("legacy report: %w", err)
	}
	defer rows.Close()
	var out []LegacyUsage
	for rows.Next() {
		var (
			clientID, userID, username sql.NullString
			count                      int64
			last                       any
		)
		if err := rows.Scan(&clientID, &userID, &username, &count, &last); err != nil {
			return nil, fmt.Errorf("legacy report: %w", err)
		}
		t, err := parseDBTime(last)
		if err != nil {
			return nil, fmt.Errorf("legacy report: %w", err)
		}
		out = append(out, LegacyUsage{ClientID: clientID.String, UserID: userID.String, Username: username.String, Count: count, LastUsed: t})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("legacy report: %w", err)
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
	var clients []models.Client
	if err := s.db.WithContext(ctx).Select("id, name, legacy_sunset").Where("id IN ?", slices.Compact(clientIDs)).Find(&clients).Error; err != nil {
		return fmt.Errorf("legacy report: %w", err)
	}
	var users []models.User
	if err := s.db.WithContext(ctx).Select("id, username").Where("id IN ?", slices.Compact(userIDs)).Find(&users).Error; err != nil {
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

// parseDBTime reads an aggregate time: PostgreSQL returns a time.Time,
// SQLite the text it stored.
func parseDBTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case []byte:
		return parseDBTime(string(t))
	case string:
		for _, layout := range []string{
			"2006-01-02 15:04:05.999999999-07:00",
			time.RFC3339Nano,
			"2006-01-02 15:04:05.999999999Z07:00",
			"2006-01-02 15:04:05.999999999",
			"2006-01-02T15:04:05.999999999",
		} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("unrecognised time %q", t)
	default:
		return time.Time{}, fmt.Errorf("unrecognised time of type %T", v)
	}
}

// DayCount is the number of successful sign-ins on one UTC day.
type DayCount struct {
	Day    time.Time // UTC midnight
	Legacy int64     // legacy password grants
	OAuth  int64     // login page sign-ins
}

// DailyLogins counts successful sign-ins per UTC day from since's day up to
// today (or the last event, if later), one entry per day including days
// without any. The bucketing is done in Go because SQLite and PostgreSQL
// disagree on date functions.
func (s *Service) DailyLogins(ctx context.Context, since time.Time) ([]DayCount, error) {
	q := s.db.WithContext(ctx).Model(&models.LoginEvent{}).Select("time, method").
		Where("result = ? AND method IN ?", ResultSuccess, []string{MethodPasswordGrant, MethodLoginPage})
	if !since.IsZero() {
		q = q.Where("time >= ?", since.UTC())
	}
	rows, err := q.Rows()
	if err != nil {
		return nil, fmt.Errorf("daily logins: %w", err)
	}
	defer rows.Close()
	counts := map[time.Time]*DayCount{}
	var first, last time.Time
	for rows.Next() {
		var e models.LoginEvent
		if err := s.db.ScanRows(rows, &e); err != nil {
			return nil, fmt.Errorf("daily logins: %w", err)
		}
		day := utcDay(e.Time)
		c := counts[day]
		if c == nil {
			c = &DayCount{Day: day}
			counts[day] = c
		}
		if e.Method == MethodPasswordGrant {
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
	}
	if err := rows.Err(); err != nil {
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
