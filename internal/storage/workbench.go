package storage

import (
	"context"
	"database/sql"
	"time"

	"github.com/authgate/authgate/models"
)

// LegacyUse is the events of one user at one client with one method, user
// agent and source address: how many, and the last.
type LegacyUse struct {
	ClientID  string
	UserID    string
	Username  string
	Method    string
	UserAgent string
	SourceIP  string
	Count     int64
	Last      time.Time
}

// LegacyUses groups the events with result and one of methods at or after
// since by client, user, method, user agent and source address. The
// groups, not the events, are read: their number is bounded by what was
// seen, however long the history.
func (s *Store) LegacyUses(ctx context.Context, methods []string, result string, since time.Time) ([]LegacyUse, error) {
	rows, err := s.conn(ctx).Model(&models.LoginEvent{}).
		Select("client_id, user_id, MAX(username), method, user_agent, source_ip, COUNT(*), MAX(time)").
		Where("method IN ? AND result = ? AND time >= ?", methods, result, since.UTC()).
		Group("client_id, user_id, method, user_agent, source_ip").Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LegacyUse
	for rows.Next() {
		var (
			clientID, userID, username, method, ua, ip sql.NullString
			u                                          LegacyUse
			last                                       any
		)
		if err := rows.Scan(&clientID, &userID, &username, &method, &ua, &ip, &u.Count, &last); err != nil {
			return nil, err
		}
		if u.Last, err = parseDBTime(last); err != nil {
			return nil, err
		}
		u.ClientID, u.UserID, u.Username, u.Method, u.UserAgent, u.SourceIP = clientID.String, userID.String, username.String, method.String, ua.String, ip.String
		out = append(out, u)
	}
	return out, rows.Err()
}
