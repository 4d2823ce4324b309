package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/authgate/authgate/models"
)

// RecordLogin writes one login attempt as given; the caller has cut its
// fields to their column sizes.
func (s *Store) RecordLogin(ctx context.Context, e *models.LoginEvent) error {
	return s.conn(ctx).Create(e).Error
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
func (s *Store) ListLogins(ctx context.Context, f LoginFilter) ([]models.LoginEvent, int64, error) {
	q := s.conn(ctx).Model(&models.LoginEvent{})
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Username != "" {
		q = q.Where("username = ?", f.Username)
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
		return nil, 0, err
	}
	var out []models.LoginEvent
	if err := q.Order("time DESC, id DESC").Limit(f.Limit).Offset(max(f.Offset, 0)).Find(&out).Error; err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// PruneLogins deletes the events older than olderThan and returns how many.
func (s *Store) PruneLogins(ctx context.Context, olderThan time.Time) (int64, error) {
	res := s.conn(ctx).Where("time < ?", olderThan.UTC()).Delete(&models.LoginEvent{})
	return res.RowsAffected, res.Error
}

// LoginCount is the number of events of one user at one client, and the
// time of the last.
type LoginCount struct {
	ClientID string
	UserID   string
	// Username is the one the newest-sorting event recorded.
	Username string
	Count    int64
	Last     time.Time
}

// CountLogins counts, per client and user, the events with method and
// result.
func (s *Store) CountLogins(ctx context.Context, method, result string) ([]LoginCount, error) {
	rows, err := s.conn(ctx).Model(&models.LoginEvent{}).
		Select("client_id, user_id, MAX(username), COUNT(*), MAX(time)").
		Where("method = ? AND result = ?", method, result).
		Group("client_id, user_id").Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LoginCount
	for rows.Next() {
		var (
			clientID, userID, username sql.NullString
			count                      int64
			last                       any
		)
		if err := rows.Scan(&clientID, &userID, &username, &count, &last); err != nil {
			return nil, err
		}
		t, err := parseDBTime(last)
		if err != nil {
			return nil, err
		}
		out = append(out, LoginCount{ClientID: clientID.String, UserID: userID.String, Username: username.String, Count: count, Last: t})
	}
	return out, rows.Err()
}

// EachLoginTime calls fn with the time and method of every event with
// result and one of methods, since since (all of them if zero), in no
// order. The rows stream: a long history is never held in memory at once.
func (s *Store) EachLoginTime(ctx context.Context, result string, methods []string, since time.Time, fn func(at time.Time, method string)) error {
	db := s.conn(ctx)
	q := db.Model(&models.LoginEvent{}).Select("time, method").
		Where("result = ? AND method IN ?", result, methods)
	if !since.IsZero() {
		q = q.Where("time >= ?", since.UTC())
	}
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e models.LoginEvent
		if err := db.ScanRows(rows, &e); err != nil {
			return err
		}
		fn(e.Time, e.Method)
	}
	return rows.Err()
}

// ClientsWithSunsetUsedBy lists the clients with a legacy sunset at which
// userID has an event with method and result, earliest sunset first.
func (s *Store) ClientsWithSunsetUsedBy(ctx context.Context, userID, method, result string) ([]models.Client, error) {
	db := s.conn(ctx)
	var clients []models.Client
	err := db.Where("legacy_sunset IS NOT NULL").
		Where("id IN (?)", db.Model(&models.LoginEvent{}).Select("client_id").
			Where("user_id = ? AND method = ? AND result = ?", userID, method, result)).
		Order("legacy_sunset, id").Find(&clients).Error
	return clients, err
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
