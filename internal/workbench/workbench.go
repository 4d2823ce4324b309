package workbench

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Store is what the workbench reads; *storage.Store is one.
type Store interface {
	ListClients(ctx context.Context) ([]models.Client, error)
	LegacyUses(ctx context.Context, methods []string, result string, since time.Time) ([]storage.LegacyUse, error)
	BrownoutsEndingAfter(ctx context.Context, t time.Time) ([]models.ClientBrownout, error)
	TrustedCIDRs(ctx context.Context) ([]string, error)
}

// Options configure a Service.
type Options struct {
	// The login-history methods that are a use of the legacy grant: a
	// password grant, a refresh of a grant it began, and a password grant
	// an app password admitted ("" while there are none). Success is the
	// result that counts.
	PasswordMethod    string
	RefreshMethod     string
	AppPasswordMethod string
	Success           string
	// Disabled is the global switch of the legacy grant.
	Disabled bool
	Now      func() time.Time
}

// Service builds the workbench's views.
type Service struct {
	store Store
	opts  Options
}

// New returns a Service.
func New(store Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, opts: opts}
}

// The ways off the password grant a suggestion names.
const (
	WayDeviceFlow        = "device_flow"
	WayClientCredentials = "client_credentials"
	WayAppPasswords      = "app_passwords"
	WayTurnOff           = "turn_off"
)

// How a use was admitted.
const (
	ViaSecurityToken = "security_token"
	ViaTrustedRange  = "trusted_range"
	ViaAppPassword   = "app_password"
	// ViaRefresh is a refresh of a grant the password grant began: no
	// credential was sent.
	ViaRefresh = "refresh"
)

// MaxDays bounds the look-back of a report.
const MaxDays = 366

// Seen is one value (a user agent, a network) and how often and when last
// it was seen.
type Seen struct {
	Value string    `json:"value"`
	Count int64     `json:"count"`
	Last  time.Time `json:"last"`
}

// UserUse is one user's use of one client's legacy grant.
type UserUse struct {
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	Count      int64     `json:"count"`
	LastUsed   time.Time `json:"last_used"`
	UserAgents []string  `json:"user_agents"`
	Networks   []string  `json:"networks"`
	// Via lists how the uses were admitted: security_token, trusted_range,
	// app_password, refresh.
	Via []string `json:"via"`
	// ToMove is true when the user signed in with a password (and token,
	// or from a trusted range): someone to move off the password. A user
	// seen only with app passwords (and refreshes) is not.
	ToMove bool `json:"to_move"`
}

// Suggestion is the way off the grant the workbench suggests for a client,
// why, and the one action that starts it.
type Suggestion struct {
	Way    string `json:"way"`
	Reason string `json:"reason"`
	Action string `json:"action"`
}

// Action is something an administrator can do about a client from the
// workbench. Available is false, with a Note saying why, when this server
// cannot do it yet.
type Action struct {
	Name      string `json:"name"`
	Label     string `json:"label"`
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
}

// Window is a brownout as the report shows it.
type Window struct {
	ID    uint64    `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ClientReport is one legacy client on the workbench.
type ClientReport struct {
	ClientID      string     `json:"client_id"`
	Name          string     `json:"name"`
	LegacyEnabled bool       `json:"legacy_enabled"`
	Sunset        *time.Time `json:"sunset"`
	Brownouts     []Window   `json:"brownouts"`
	Users         []UserUse  `json:"users"`
	UserAgents    []Seen     `json:"user_agents"`
	Networks      []Seen     `json:"networks"`
	// Uses counts every legacy use in the period.
	Uses int64 `json:"uses"`
	// ToMove counts the users who signed in with a password (Users[i].ToMove).
	ToMove int `json:"to_move"`
	// LegacyCredentials is what the client's password grant accepts:
	// token, app_password or both.
	LegacyCredentials string     `json:"legacy_credentials"`
	LastUsed          *time.Time `json:"last_used"`
	Suggestion        Suggestion `json:"suggestion"`
	Actions           []Action   `json:"actions"`
}

// Report is the workbench: every client that holds the password grant or
// was used with it in the period, most used first.
type Report struct {
	Since   time.Time      `json:"since"`
	Days    int            `json:"days"`
	Clients []ClientReport `json:"clients"`
}

// ErrDays refuses a look-back out of range.
var ErrDays = apperr.Field("days", fmt.Sprintf("must be a whole number of days from 1 to %d", MaxDays))

// CheckDays validates a look-back in days.
func CheckDays(days int) error {
	if days < 1 || days > MaxDays {
		return ErrDays
	}
	return nil
}

// Report builds the workbench over the last days days.
func (s *Service) Report(ctx context.Context, days int) (Report, error) {
	if err := CheckDays(days); err != nil {
		return Report{}, err
	}
	now := s.opts.Now().UTC()
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	list, err := s.store.ListClients(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("workbench: %w", err)
	}
	uses, err := s.store.LegacyUses(ctx, s.methods(), s.opts.Success, since)
	if err != nil {
		return Report{}, fmt.Errorf("workbench: %w", err)
	}
	brownouts, err := s.store.BrownoutsEndingAfter(ctx, now)
	if err != nil {
		return Report{}, fmt.Errorf("workbench: %w", err)
	}
	trusted, err := s.trusted(ctx)
	if err != nil {
		return Report{}, err
	}
	byClient := map[string][]storage.LegacyUse{}
	for _, u := range uses {
		byClient[u.ClientID] = append(byClient[u.ClientID], u)
	}
	out := Report{Since: since, Days: days, Clients: []ClientReport{}}
	for _, c := range list {
		enabled := slices.Contains(c.GrantTypes, clients.GrantPassword)
		if !enabled && len(byClient[c.ID]) == 0 {
			continue
		}
		cr := s.client(c, byClient[c.ID], trusted)
		for _, b := range brownouts {
			if b.ClientID == c.ID {
				cr.Brownouts = append(cr.Brownouts, Window{ID: b.ID, Start: b.StartsAt.UTC(), End: b.EndsAt.UTC()})
			}
		}
		out.Clients = append(out.Clients, cr)
	}
	slices.SortStableFunc(out.Clients, func(a, b ClientReport) int {
		if c := cmp.Compare(b.Uses, a.Uses); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

func (s *Service) methods() []string {
	var m []string
	for _, v := range []string{s.opts.PasswordMethod, s.opts.RefreshMethod, s.opts.AppPasswordMethod} {
		if v != "" {
			m = append(m, v)
		}
	}
	return m
}

func (s *Service) trusted(ctx context.Context) ([]netip.Prefix, error) {
	cidrs, err := s.store.TrustedCIDRs(ctx)
	if err != nil {
		return nil, fmt.Errorf("workbench: %w", err)
	}
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// via says how a use was admitted. The login history records the method,
// not the credential: a password grant from inside a trusted range needed
// no token, one from anywhere else did (judged by the ranges trusted now).
func (s *Service) via(u storage.LegacyUse, trusted []netip.Prefix) string {
	switch {
	case s.opts.AppPasswordMethod != "" && u.Method == s.opts.AppPasswordMethod:
		return ViaAppPassword
	case u.Method == s.opts.RefreshMethod:
		return ViaRefresh
	}
	if addr, err := netip.ParseAddr(u.SourceIP); err == nil {
		for _, p := range trusted {
			if p.Contains(addr.Unmap()) {
				return ViaTrustedRange
			}
		}
	}
	return ViaSecurityToken
}

// Network returns the network an address belongs to, as the workbench
// groups them: an IPv4 /24 or an IPv6 /64.
func Network(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	bits := 24
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p.String()
}

func (s *Service) client(c models.Client, uses []storage.LegacyUse, trusted []netip.Prefix) ClientReport {
	cr := ClientReport{
		ClientID: c.ID, Name: c.Name, LegacyEnabled: slices.Contains(c.GrantTypes, clients.GrantPassword),
		Sunset: c.LegacySunset, Brownouts: []Window{}, Users: []UserUse{}, UserAgents: []Seen{}, Networks: []Seen{},
		LegacyCredentials: cmp.Or(c.LegacyCredentials, models.LegacyToken),
	}
	users := map[string]*UserUse{}
	agents, networks := map[string]*Seen{}, map[string]*Seen{}
	add := func(m map[string]*Seen, v string, u storage.LegacyUse) {
		e := m[v]
		if e == nil {
			e = &Seen{Value: v}
			m[v] = e
		}
		e.Count += u.Count
		if u.Last.After(e.Last) {
			e.Last = u.Last
		}
	}
	for _, u := range uses {
		key := cmp.Or(u.UserID, "name:"+u.Username)
		uu := users[key]
		if uu == nil {
			uu = &UserUse{UserID: u.UserID, Username: u.Username, UserAgents: []string{}, Networks: []string{}, Via: []string{}}
			users[key] = uu
		}
		uu.Count += u.Count
		if u.Last.After(uu.LastUsed) {
			uu.LastUsed = u.Last
		}
		net := Network(u.SourceIP)
		for _, pair := range []struct {
			list *[]string
			v    string
		}{{&uu.UserAgents, u.UserAgent}, {&uu.Networks, net}, {&uu.Via, s.via(u, trusted)}} {
			if pair.v != "" && !slices.Contains(*pair.list, pair.v) {
				*pair.list = append(*pair.list, pair.v)
			}
		}
		if u.UserAgent != "" {
			add(agents, u.UserAgent, u)
		}
		if net != "" {
			add(networks, net, u)
		}
		cr.Uses += u.Count
		if cr.LastUsed == nil || u.Last.After(*cr.LastUsed) {
			last := u.Last
			cr.LastUsed = &last
		}
	}
	for _, u := range users {
		slices.Sort(u.UserAgents)
		slices.Sort(u.Networks)
		slices.Sort(u.Via)
		u.ToMove = slices.Contains(u.Via, ViaSecurityToken) || slices.Contains(u.Via, ViaTrustedRange)
		if u.ToMove {
			cr.ToMove++
		}
		cr.Users = append(cr.Users, *u)
	}
	slices.SortFunc(cr.Users, func(a, b UserUse) int {
		if c := b.LastUsed.Compare(a.LastUsed); c != 0 {
			return c
		}
		return cmp.Compare(a.Username, b.Username)
	})
	cr.UserAgents = sortedSeen(agents)
	cr.Networks = sortedSeen(networks)
	cr.Suggestion = suggest(c, cr)
	cr.Actions = actions(c, cr.Suggestion)
	return cr
}

func sortedSeen(m map[string]*Seen) []Seen {
	out := make([]Seen, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b Seen) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return out
}

// passwordOnlyAgents are user agents of tools that can do nothing but
// send a username and a password (database drivers, office suites, old
// integration runtimes): they cannot run any OAuth flow themselves.
var passwordOnlyAgents = []string{"java/", "apache-httpclient", "jdbc", "odbc", "microsoft office", "excel", "soap", "dataloader", "data loader", "axis"}

// cliAgents are user agents of command-line tools and scripts.
var cliAgents = []string{"curl/", "wget/", "python", "go-http-client", "httpie", "node", "okhttp", "powershell", "cli"}

func agentIs(agent string, kinds []string) bool {
	a := strings.ToLower(agent)
	for _, k := range kinds {
		if strings.Contains(a, k) {
			return true
		}
	}
	return false
}

// suggest derives the way off the grant from what was seen:
//
//   - nobody used it: turn it off, nothing would break;
//   - a tool that can only send a password: app passwords, one per
//     integration, so that it keeps working without the person's password;
//   - several people, or one person from several networks: the device flow,
//     each approving in a browser (a CLI cannot follow a redirect);
//   - one account from one network without a person's tool: a service, so
//     client credentials (no user at all).
//
// Users seen only with app passwords are on their way already: they count
// for turning the grant off, not as password users to move.
func suggest(c models.Client, cr ClientReport) Suggestion {
	onlyPassword, cli := false, false
	for _, a := range cr.UserAgents {
		onlyPassword = onlyPassword || agentIs(a.Value, passwordOnlyAgents)
		cli = cli || agentIs(a.Value, cliAgents)
	}
	switch {
	case len(cr.Users) == 0:
		return Suggestion{Way: WayTurnOff, Action: ActionDisableLegacy,
			Reason: "Nobody used the legacy grant of this client in the period: turning it off breaks nothing seen."}
	case cr.ToMove == 0 && c.AcceptsToken():
		return Suggestion{Way: WayAppPasswords, Action: ActionRequireAppPasswords,
			Reason: "Every user seen signs in with an app password already: requiring app passwords refuses password + token, and nobody seen would notice."}
	case cr.ToMove == 0:
		return Suggestion{Way: WayAppPasswords, Action: ActionScheduleBrownout,
			Reason: "The client accepts only app passwords and its users use them: nobody is left to move off a password. Before the sunset, move the integrations to client credentials or the device flow."}
	case onlyPassword && c.LegacyCredentials != models.LegacyAppPassword:
		return Suggestion{Way: WayAppPasswords, Action: ActionRequireAppPasswords,
			Reason: "A tool that can only send a username and password signs in: give it an app password, one per integration, instead of a person's password and token."}
	case len(cr.Users) > 1:
		what := "people"
		if cli {
			what = "people on a command-line tool"
		}
		return Suggestion{Way: WayDeviceFlow, Action: ActionEnableDeviceGrant,
			Reason: fmt.Sprintf("%d %s sign in through it: each can approve a device code in a browser, with the same sign-in and MFA as everywhere else.", len(cr.Users), what)}
	case len(cr.Networks) <= 1 && !cli:
		return Suggestion{Way: WayClientCredentials, Action: ActionEnableClientCredentials,
			Reason: "One account from one network, with no person's tool seen: an integration, not a person. Client credentials need no user at all."}
	default:
		return Suggestion{Way: WayDeviceFlow, Action: ActionEnableDeviceGrant,
			Reason: "One person signs in from a command-line tool or from several networks: the device flow lets them approve in a browser."}
	}
}

// Actions the workbench offers.
const (
	ActionEnableDeviceGrant       = "enable_device_grant"
	ActionEnableClientCredentials = "enable_client_credentials"
	ActionRequireAppPasswords     = "require_app_passwords"
	ActionScheduleBrownout        = "schedule_brownout"
	ActionSendNotices             = "send_notices"
	ActionDisableLegacy           = "disable_legacy"
)

// DeviceGrantType is the grant type of the device authorization grant.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceGrantSupported reports whether this server's clients may hold the
// device grant (the grant lands on its own).
func DeviceGrantSupported() bool {
	return slices.Contains(clients.SupportedGrantTypes, DeviceGrantType)
}

func actions(c models.Client, sg Suggestion) []Action {
	hasSunset := c.LegacySunset != nil
	out := []Action{
		{Name: ActionEnableDeviceGrant, Label: "Enable the device flow on the client", Available: DeviceGrantSupported() && !c.Public && !slices.Contains(c.GrantTypes, DeviceGrantType)},
		{Name: ActionEnableClientCredentials, Label: "Enable client credentials on the client", Available: !c.Public && !slices.Contains(c.GrantTypes, clients.GrantClientCredentials)},
		{Name: ActionRequireAppPasswords, Label: "Require app passwords instead of password + token",
			Available: slices.Contains(c.GrantTypes, clients.GrantPassword) && c.LegacyCredentials != models.LegacyAppPassword},
		{Name: ActionScheduleBrownout, Label: "Schedule a brownout", Available: hasSunset},
		{Name: ActionSendNotices, Label: "Send the sunset notices now", Available: hasSunset},
		{Name: ActionDisableLegacy, Label: "Turn the legacy grant off", Available: slices.Contains(c.GrantTypes, clients.GrantPassword)},
	}
	for i := range out {
		a := &out[i]
		switch {
		case a.Available:
		case a.Note != "":
		case a.Name == ActionRequireAppPasswords && c.LegacyCredentials == models.LegacyAppPassword:
			a.Note = "the client already accepts only app passwords"
		case a.Name == ActionEnableDeviceGrant && !DeviceGrantSupported():
			a.Note = "not available on this server yet: it has no device authorization grant"
		case (a.Name == ActionScheduleBrownout || a.Name == ActionSendNotices) && !hasSunset:
			a.Note = "set a sunset first"
		default:
			a.Note = "already done, or not possible for this client"
		}
	}
	// The suggested action first.
	slices.SortStableFunc(out, func(a, b Action) int {
		return cmp.Compare(boolRank(a.Name != sg.Action), boolRank(b.Name != sg.Action))
	})
	return out
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
