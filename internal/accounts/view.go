package accounts

import (
	"time"

	"github.com/authgate/authgate/models"
)

// The views below are how the admin API and the CLI show users, login
// attempts and the legacy report as JSON. Times are in UTC.

// UserView shows a user: never the password hash nor the security token
// or its hash.
type UserView struct {
	ID                string     `json:"id"`
	Username          string     `json:"username"`
	Email             string     `json:"email"`
	Name              string     `json:"name"`
	Admin             bool       `json:"admin"`
	Disabled          bool       `json:"disabled"`
	RequireMFA        bool       `json:"require_mfa"`
	EmailVerified     bool       `json:"email_verified"`
	TokenIssuedAt     time.Time  `json:"token_issued_at"`
	PasswordChangedAt time.Time  `json:"password_changed_at"`
	LegacyFailures    int        `json:"legacy_failures"`
	LegacyLockedUntil *time.Time `json:"legacy_locked_until"`
	LoginFailures     int        `json:"login_failures"`
	LoginLockedUntil  *time.Time `json:"login_locked_until"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// UserViewOf returns the UserView of u.
func UserViewOf(u models.User) UserView {
	return UserView{
		ID:                u.ID,
		Username:          u.Username,
		Email:             u.Email,
		Name:              u.Name,
		Admin:             u.Admin,
		Disabled:          u.Disabled,
		RequireMFA:        u.RequireMFA,
		EmailVerified:     u.EmailVerified,
		TokenIssuedAt:     u.TokenIssuedAt.UTC(),
		PasswordChangedAt: u.PasswordChangedAt.UTC(),
		LegacyFailures:    u.LegacyFailures,
		LegacyLockedUntil: utcPtr(u.LegacyLockedUntil),
		LoginFailures:     u.LoginFailures,
		LoginLockedUntil:  utcPtr(u.LoginLockedUntil),
		CreatedAt:         u.CreatedAt.UTC(),
		UpdatedAt:         u.UpdatedAt.UTC(),
	}
}

// LoginEventView shows one login attempt.
type LoginEventView struct {
	Time      time.Time `json:"time"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	ClientID  string    `json:"client_id"`
	SourceIP  string    `json:"source_ip"`
	Method    string    `json:"method"`
	Result    string    `json:"result"`
	UserAgent string    `json:"user_agent"`
}

// LoginEventViewOf returns the LoginEventView of e.
func LoginEventViewOf(e models.LoginEvent) LoginEventView {
	return LoginEventView{
		Time: e.Time.UTC(), UserID: e.UserID, Username: e.Username, ClientID: e.ClientID,
		SourceIP: e.SourceIP, Method: e.Method, Result: e.Result, UserAgent: e.UserAgent,
	}
}

// LegacyUsageView shows one line of the legacy usage report.
type LegacyUsageView struct {
	ClientID   string     `json:"client_id"`
	ClientName string     `json:"client_name"`
	Sunset     *time.Time `json:"sunset"`
	UserID     string     `json:"user_id"`
	Username   string     `json:"username"`
	Count      int64      `json:"count"`
	LastUsed   time.Time  `json:"last_used"`
}

// LegacyUsageViewOf returns the LegacyUsageView of u.
func LegacyUsageViewOf(u LegacyUsage) LegacyUsageView {
	return LegacyUsageView{
		ClientID: u.ClientID, ClientName: u.ClientName, Sunset: utcPtr(u.Sunset),
		UserID: u.UserID, Username: u.Username, Count: u.Count, LastUsed: u.LastUsed.UTC(),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
