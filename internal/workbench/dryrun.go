package workbench

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// Breakage is one user of one client whose legacy sign-ins would stop if
// the grant were turned off now.
type Breakage struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	Uses       int64     `json:"uses"`
	LastUsed   time.Time `json:"last_used"`
	UserAgents []string  `json:"user_agents"`
	Networks   []string  `json:"networks"`
	Via        []string  `json:"via"`
}

// DryRun answers "if the legacy grant were turned off now": every user of
// every client that may use it now (it holds the grant, its sunset has not
// passed, the grant is not switched off everywhere) who used it in the last
// days days. Clients already refused break nothing new.
func (s *Service) DryRun(ctx context.Context, days int) ([]Breakage, error) {
	r, err := s.Report(ctx, days)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	out := []Breakage{}
	if s.opts.Disabled {
		return out, nil
	}
	for _, c := range r.Clients {
		if !c.LegacyEnabled || c.Sunset != nil && !now.Before(*c.Sunset) {
			continue
		}
		for _, u := range c.Users {
			out = append(out, Breakage{ClientID: c.ClientID, ClientName: c.Name, UserID: u.UserID, Username: u.Username,
				Uses: u.Count, LastUsed: u.LastUsed, UserAgents: u.UserAgents, Networks: u.Networks, Via: u.Via})
		}
	}
	return out, nil
}

// CSVHeader is the first row of the dry run's CSV.
var CSVHeader = []string{"client_id", "client_name", "user_id", "username", "uses", "last_used", "user_agents", "networks", "via"}

// WriteCSV writes rows as CSV (RFC 4180) with a header row. Lists are
// joined with "; ". A cell a spreadsheet would run as a formula (=, +, -,
// @, tab, CR) is prefixed with an apostrophe: user agents and usernames
// come from whoever signed in.
func WriteCSV(w io.Writer, rows []Breakage) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, b := range rows {
		rec := []string{b.ClientID, b.ClientName, b.UserID, b.Username, strconv.FormatInt(b.Uses, 10),
			b.LastUsed.UTC().Format(time.RFC3339), strings.Join(b.UserAgents, "; "), strings.Join(b.Networks, "; "), strings.Join(b.Via, "; ")}
		for i, v := range rec {
			rec[i] = defuse(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
