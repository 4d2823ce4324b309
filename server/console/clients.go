package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

type clientRow struct {
	Client models.Client
	Legacy bool
	// Managed marks the console's own client, which authgate maintains.
	Managed bool
	// CanToggle is false where the legacy grant cannot be turned on
	// (public clients) and for the console's own client.
	CanToggle bool
}

func newClientRow(cl models.Client) clientRow {
	row := clientRow{Client: cl, Legacy: slices.Contains(cl.GrantTypes, clients.GrantPassword), Managed: cl.ID == ClientID}
	row.CanToggle = !row.Managed && (!cl.Public || row.Legacy)
	return row
}

type clientsData struct {
	Clients  []clientRow
	LegacyOn int
}

func (c *console) handleClients(w http.ResponseWriter, r *http.Request, a admin) {
	c.renderClients(w, r, a, http.StatusOK, "")
}

func (c *console) renderClients(w http.ResponseWriter, r *http.Request, a admin, status int, errMsg string) {
	all, err := c.Clients.List(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.page(w, r, a, "Clients", "clients")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := clientsData{}
	for _, cl := range all {
		row := newClientRow(cl)
		if row.Legacy {
			d.LegacyOn++
		}
		d.Clients = append(d.Clients, row)
	}
	p.Error = errMsg
	p.Data = d
	c.pages.Render(w, r, status, "clients", p)
}

// getClient loads the client named in the path, showing a page and
// returning false when it cannot.
func (c *console) getClient(w http.ResponseWriter, r *http.Request) (models.Client, bool) {
	cl, err := c.Clients.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, clients.ErrNotFound) {
		c.showMessage(w, r, http.StatusNotFound, "Client not found",
			message{Text: "There is no client with this id. It may have been deleted.", Back: "/admin/clients"})
		return models.Client{}, false
	}
	if err != nil {
		c.fail(w, r, err)
		return models.Client{}, false
	}
	return cl, true
}

// parseEnabled reads the "enabled" field: true or false, nothing else.
func parseEnabled(r *http.Request) (enabled, ok bool) {
	switch r.PostFormValue("enabled") {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// confirmData is the data of the confirmation page.
type confirmData struct {
	Heading string
	Lines   []string
	Action  string
	Fields  []field
	Submit  string
	Danger  bool
	Cancel  string
}

type field struct{ Name, Value string }

func (c *console) handleLegacyConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	enabled, ok := parseEnabled(r)
	if !ok {
		c.renderClients(w, r, a, http.StatusBadRequest, "Say whether to turn the legacy grant on or off (enabled=true or false).")
		return
	}
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	report, err := c.Accounts.LegacyReport(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var users int
	var last time.Time
	for _, u := range report {
		if u.ClientID == cl.ID {
			users++
			if u.LastUsed.After(last) {
				last = u.LastUsed
			}
		}
	}
	var usage string
	switch users {
	case 0:
		usage = "Nobody has signed in to it with the legacy grant yet."
	case 1:
		usage = fmt.Sprintf("1 user has signed in to it with the legacy grant; the last time was %s.", formatTime(last))
	default:
		usage = fmt.Sprintf("%d users have signed in to it with the legacy grant; the last time was %s.", users, formatTime(last))
	}
	d := confirmData{
		Action: "/admin/clients/" + url.PathEscape(cl.ID) + "/legacy",
		Fields: []field{{"enabled", fmt.Sprint(enabled)}, {"back", safeNext(r.PostFormValue("back"))}},
		Cancel: cmpOr(safeNext(r.PostFormValue("back")), "/admin/clients"),
	}
	if enabled {
		d.Heading = fmt.Sprintf("Turn the legacy password grant on for %s?", cl.Name)
		d.Lines = []string{
			fmt.Sprintf("Client %s (%s) will again accept a username with the password and security token (grant_type=password).", cl.Name, cl.ID),
			usage,
			"The change is recorded in the audit log.",
		}
		d.Submit = "Turn the legacy grant on"
	} else {
		d.Heading = fmt.Sprintf("Turn the legacy password grant off for %s?", cl.Name)
		d.Lines = []string{
			fmt.Sprintf("From now on, client %s (%s) gets unauthorized_client when it asks for a token with a username and password. Its users must sign in through OAuth instead.", cl.Name, cl.ID),
			usage,
			"Tokens it already holds stay valid until they expire. You can turn the grant back on at any time. The change is recorded in the audit log.",
		}
		d.Submit = "Turn the legacy grant off"
		d.Danger = true
	}
	p, err := c.page(w, r, a, "Confirm", "clients")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Data = d
	c.pages.Render(w, r, http.StatusOK, "confirm", p)
}

func (c *console) handleLegacy(w http.ResponseWriter, r *http.Request, a admin) {
	enabled, ok := parseEnabled(r)
	if !ok {
		c.renderClients(w, r, a, http.StatusBadRequest, "Say whether to turn the legacy grant on or off (enabled=true or false).")
		return
	}
	id := r.PathValue("id")
	if id == ClientID {
		c.renderClients(w, r, a, http.StatusBadRequest, "The console's own client is managed by authgate; its grants cannot be changed here.")
		return
	}
	cl, err := c.Clients.SetLegacy(r.Context(), a.actor(), id, enabled)
	fe, isField := fieldErr(err)
	switch {
	case isField:
		c.renderClients(w, r, a, http.StatusBadRequest, "Nothing was changed: "+fe.Message+".")
		return
	case errors.Is(err, clients.ErrNotFound):
		c.showMessage(w, r, http.StatusNotFound, "Client not found",
			message{Text: "There is no client with this id. It may have been deleted.", Back: "/admin/clients"})
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	if enabled {
		c.setFlash(w, fmt.Sprintf("The legacy password grant is now on for %s.", cl.Name))
	} else {
		c.setFlash(w, fmt.Sprintf("The legacy password grant is now off for %s: its password-grant requests get unauthorized_client.", cl.Name))
	}
	http.Redirect(w, r, cmpOr(safeNext(r.PostFormValue("back")), "/admin/clients"), http.StatusSeeOther)
}

// clientForm holds the editable fields as the administrator typed them.
type clientForm struct {
	Name              string
	RedirectURIs      string
	Scopes            []string
	FirstParty        bool
	AccessTokenFormat string
	// RequireMFA makes the client's users sign in with a second factor.
	RequireMFA bool
	// LegacyCredentials is what the password grant accepts.
	LegacyCredentials string
	// The logout registration (OpenID Connect RP-initiated, back-channel
	// and front-channel logout).
	PostLogoutRedirectURIs            string
	BackchannelLogoutURI              string
	BackchannelLogoutSessionRequired  bool
	FrontchannelLogoutURI             string
	FrontchannelLogoutSessionRequired bool
	// IDTokenAlg and AccessTokenAlg are the signing algorithms.
	IDTokenAlg, AccessTokenAlg string
	// Salesforce-compatible password grant responses.
	SalesforceCompat bool
	InstanceURL      string
	// Only for a new client:
	Public     bool
	GrantTypes []string
	clientAuthForm
}

func formOf(cl models.Client) clientForm {
	return clientForm{
		Name:              cl.Name,
		RedirectURIs:      strings.Join(cl.RedirectURIs, "\n"),
		Scopes:            cl.Scopes,
		FirstParty:        cl.FirstParty,
		AccessTokenFormat: cl.AccessTokenFormat,
		IDTokenAlg:        cl.IDTokenAlg,
		AccessTokenAlg:    cl.AccessTokenAlg,
		SalesforceCompat:  cl.SalesforceCompat,
		InstanceURL:       cl.InstanceURL,
		Public:            cl.Public,
		GrantTypes:        cl.GrantTypes,
		RequireMFA:        cl.RequireMFA,
		LegacyCredentials: cmpOr(cl.LegacyCredentials, models.LegacyToken),

		PostLogoutRedirectURIs:            strings.Join(cl.PostLogoutRedirectURIs, "\n"),
		BackchannelLogoutURI:              cl.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  cl.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI:             cl.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: cl.FrontchannelLogoutSessionRequired,
		clientAuthForm:                    authFormOf(cl),
	}
}

func readClientForm(r *http.Request) clientForm {
	_ = r.ParseForm()
	return clientForm{
		Name:              r.PostForm.Get("name"),
		RedirectURIs:      r.PostForm.Get("redirect_uris"),
		Scopes:            r.PostForm["scopes"],
		FirstParty:        r.PostForm.Get("first_party") == "on",
		AccessTokenFormat: r.PostForm.Get("access_token_format"),
		IDTokenAlg:        r.PostForm.Get("id_token_signed_response_alg"),
		AccessTokenAlg:    r.PostForm.Get("access_token_signed_response_alg"),
		SalesforceCompat:  r.PostForm.Get("salesforce_compat") == "on",
		InstanceURL:       r.PostForm.Get("instance_url"),
		Public:            r.PostForm.Get("client_type") == "public",
		GrantTypes:        r.PostForm["grant_types"],
		RequireMFA:        r.PostForm.Get("require_mfa") == "on",
		LegacyCredentials: r.PostForm.Get("legacy_credentials"),

		PostLogoutRedirectURIs:            r.PostForm.Get("post_logout_redirect_uris"),
		BackchannelLogoutURI:              strings.TrimSpace(r.PostForm.Get("backchannel_logout_uri")),
		BackchannelLogoutSessionRequired:  r.PostForm.Get("backchannel_logout_session_required") == "on",
		FrontchannelLogoutURI:             strings.TrimSpace(r.PostForm.Get("frontchannel_logout_uri")),
		FrontchannelLogoutSessionRequired: r.PostForm.Get("frontchannel_logout_session_required") == "on",
		clientAuthForm:                    readAuthForm(r),
	}
}

// settingsGrantTypes are the grant types a client's settings form offers:
// every one but the legacy password grant, which has its own switch.
func settingsGrantTypes() []string {
	return slices.DeleteFunc(slices.Clone(clients.SupportedGrantTypes), func(g string) bool { return g == clients.GrantPassword })
}

func splitLines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
}

type clientData struct {
	Row    clientRow
	Form   clientForm
	Sunset string
	// Usage lists the legacy sign-ins to this client, per user.
	Usage   []accounts.LegacyUsage
	Scopes  []string
	Formats []string
	Algs    []string
	// GrantTypes are the grant types the settings form offers; the
	// legacy password grant has its own switch.
	GrantTypes []string
	SunsetPast bool
	// ConfirmPast asks to confirm a sunset date that has passed.
	ConfirmPast bool
	// BackToHere brings the legacy toggle back to this page.
	BackToHere  string
	DeprecateAt *time.Time
	// Brownouts are the client's brownout windows; BrownoutStart and
	// BrownoutEnd refill the form after a refusal.
	Brownouts                  []clients.BrownoutView
	BrownoutStart, BrownoutEnd string
	// MigrationURL is the client's own migration guide, DefaultGuide the
	// configured one that applies without it.
	MigrationURL, DefaultGuide string
}

func (c *console) handleClient(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	c.renderClient(w, r, a, http.StatusOK, cl, formOf(cl), sunsetDay(cl.LegacySunset), "", nil, false)
}

// renderClient shows the client's page; confirmPast asks to confirm a
// sunset date that has passed.
func (c *console) renderClient(w http.ResponseWriter, r *http.Request, a admin, status int, cl models.Client, form clientForm, sunset, errMsg string, fieldErrs map[string]string, confirmPast bool) {
	c.renderClientWith(w, r, a, status, cl, form, sunset, errMsg, fieldErrs, confirmPast, nil)
}

// renderClientWith is renderClient with edit applied to the page's data
// last (a form to refill).
func (c *console) renderClientWith(w http.ResponseWriter, r *http.Request, a admin, status int, cl models.Client, form clientForm, sunset, errMsg string, fieldErrs map[string]string, confirmPast bool, edit func(*clientData)) {
	brownouts, err := c.Clients.Brownouts(r.Context(), cl.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	report, err := c.Accounts.LegacyReport(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.page(w, r, a, "Client "+cl.Name, "clients")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := clientData{
		Row:         newClientRow(cl),
		Form:        form,
		Sunset:      sunset,
		Scopes:      oauth.SupportedScopes,
		Formats:     []string{oauth.FormatOpaque, oauth.FormatJWT},
		Algs:        oauth.SigningAlgorithms,
		GrantTypes:  settingsGrantTypes(),
		SunsetPast:  cl.LegacySunset != nil && !cl.LegacySunset.After(c.Now()),
		ConfirmPast: confirmPast,
		BackToHere:  "/admin/clients/" + url.PathEscape(cl.ID),
		DeprecateAt: cl.LegacyDeprecatedAt,

		MigrationURL: cl.LegacyMigrationURL,
		DefaultGuide: c.Config.LegacyMigrationURL,
	}
	now := c.Now()
	for _, b := range brownouts {
		d.Brownouts = append(d.Brownouts, clients.BrownoutViewOf(b, now))
	}
	if edit != nil {
		edit(&d)
	}
	for _, u := range report {
		if u.ClientID == cl.ID {
			d.Usage = append(d.Usage, u)
		}
	}
	p.Error = errMsg
	p.FieldErrors = fieldErrs
	p.Data = d
	c.pages.Render(w, r, status, "client", p)
}

// fieldError turns a service's field error into the page's summary and the
// message shown next to the field.
// posted returns a pointer to v, or nil (no change) when the form did not
// carry the field.
func posted(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func fieldError(field, msg string) (string, map[string]string) {
	return fmt.Sprintf("Nothing was saved: %s %s.", strings.ReplaceAll(field, "_", " "), msg), map[string]string{field: msg}
}

func (c *console) handleUpdateClient(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	form := readClientForm(r)
	if cl.ID == ClientID {
		c.renderClient(w, r, a, http.StatusBadRequest, cl, formOf(cl), sunsetDay(cl.LegacySunset),
			"The console's own client is managed by authgate and restored at every start; change admin_url instead.", nil, false)
		return
	}
	uris := splitLines(form.RedirectURIs)
	scopes := form.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	// The form's grant types, and the legacy password grant as its own
	// switch left it.
	grants := []string{}
	for _, g := range form.GrantTypes {
		if g != clients.GrantPassword {
			grants = append(grants, g)
		}
	}
	if slices.Contains(cl.GrantTypes, clients.GrantPassword) {
		grants = append(grants, clients.GrantPassword)
	}
	form.GrantTypes = grants
	postLogout := splitLines(form.PostLogoutRedirectURIs)
	updated, err := c.Clients.Update(r.Context(), a.actor(), cl.ID, withAuth(clients.ClientUpdate{
		Name:              &form.Name,
		RedirectURIs:      &uris,
		Scopes:            &scopes,
		GrantTypes:        &grants,
		FirstParty:        &form.FirstParty,
		AccessTokenFormat: &form.AccessTokenFormat,
		RequireMFA:        &form.RequireMFA,
		LegacyCredentials: &form.LegacyCredentials,

		PostLogoutRedirectURIs:            &postLogout,
		BackchannelLogoutURI:              &form.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  &form.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI:             &form.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: &form.FrontchannelLogoutSessionRequired,
		IDTokenAlg:                        posted(form.IDTokenAlg),
		AccessTokenAlg:                    posted(form.AccessTokenAlg),
		SalesforceCompat:                  &form.SalesforceCompat,
		InstanceURL:                       &form.InstanceURL,
	}, form.clientAuthForm))
	fe, isField := fieldErr(err)
	switch {
	case isField:
		msg, fields := fieldError(fe.Field, fe.Message)
		c.renderClient(w, r, a, http.StatusBadRequest, cl, form, sunsetDay(cl.LegacySunset), msg, fields, false)
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Saved the changes to %s.", updated.Name))
	http.Redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID), http.StatusSeeOther)
}

func (c *console) handleSunset(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("sunset"))
	var at *time.Time
	if raw != "" {
		t, err := clients.ParseSunset(raw, c.Now(), r.PostFormValue("confirm_past") == "on")
		if errors.Is(err, clients.ErrSunsetPassed) {
			msg, fields := fieldError("sunset", "has passed: the legacy grant would be refused at once. Tick the box below to set it anyway")
			c.renderClient(w, r, a, http.StatusBadRequest, cl, formOf(cl), raw, msg, fields, true)
			return
		}
		if err != nil {
			msg, fields := fieldError("sunset", "must be a date such as 2027-03-31, or empty to clear it")
			c.renderClient(w, r, a, http.StatusBadRequest, cl, formOf(cl), raw, msg, fields, false)
			return
		}
		at = &t
	}
	updated, err := c.Clients.SetSunset(r.Context(), a.actor(), cl.ID, at)
	if fe, ok := apperr.As(err); ok && fe.Field == "sunset" {
		msg, fields := fieldError("sunset", fe.Message)
		c.renderClient(w, r, a, http.StatusConflict, cl, formOf(cl), raw, msg, fields, false)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	switch {
	case at == nil:
		c.setFlash(w, fmt.Sprintf("Cleared the legacy sunset of %s.", updated.Name))
	case !at.After(c.Now()):
		c.setFlash(w, fmt.Sprintf("The legacy sunset of %s is %s, which has passed: its legacy password grant is refused from now on.", updated.Name, raw))
	default:
		c.setFlash(w, fmt.Sprintf("The legacy password grant of %s works until the end of %s (UTC). Its token responses now announce the date.", updated.Name, sunsetDay(at)))
	}
	http.Redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID), http.StatusSeeOther)
}

type newClientData struct {
	Form       clientForm
	Scopes     []string
	GrantTypes []string
	Formats    []string
	Algs       []string
}

func (c *console) handleNewClientForm(w http.ResponseWriter, r *http.Request, a admin) {
	c.renderNewClient(w, r, a, http.StatusOK, clientForm{
		clientAuthForm:    clientAuthForm{RequirePKCE: true},
		AccessTokenFormat: oauth.FormatOpaque,
		IDTokenAlg:        oauth.AlgRS256,
		AccessTokenAlg:    oauth.AlgRS256,
		GrantTypes:        []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken},
		Scopes:            []string{oauth.ScopeOpenID, oauth.ScopeProfile},
	}, "", nil)
}

func (c *console) renderNewClient(w http.ResponseWriter, r *http.Request, a admin, status int, form clientForm, errMsg string, fieldErrs map[string]string) {
	p, err := c.page(w, r, a, "New client", "clients")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Error = errMsg
	p.FieldErrors = fieldErrs
	p.Data = newClientData{
		Form:       form,
		Scopes:     oauth.SupportedScopes,
		GrantTypes: clients.SupportedGrantTypes,
		Formats:    []string{oauth.FormatOpaque, oauth.FormatJWT},
		Algs:       oauth.SigningAlgorithms,
	}
	c.pages.Render(w, r, status, "client_new", p)
}

type createdData struct {
	Client models.Client
	Secret string
}

func (c *console) handleCreateClient(w http.ResponseWriter, r *http.Request, a admin) {
	form := readClientForm(r)
	cl, sec, err := c.Clients.Create(r.Context(), a.actor(), clients.NewClient{
		Name:              form.Name,
		GrantTypes:        form.GrantTypes,
		RedirectURIs:      splitLines(form.RedirectURIs),
		Scopes:            form.Scopes,
		Public:            form.Public,
		FirstParty:        form.FirstParty,
		AccessTokenFormat: form.AccessTokenFormat,
		IDTokenAlg:        form.IDTokenAlg,
		AccessTokenAlg:    form.AccessTokenAlg,
		Auth:              form.auth(),
		LegacyCredentials: form.LegacyCredentials,
	})
	fe, isField := fieldErr(err)
	switch {
	case isField:
		msg, fields := fieldError(fe.Field, fe.Message)
		c.renderNewClient(w, r, a, http.StatusBadRequest, form, msg, fields)
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	if sec == "" {
		kind := "public client"
		if !cl.Public {
			kind = "private_key_jwt client"
		}
		c.setFlash(w, fmt.Sprintf("Created the %s %s with id %s.", kind, cl.Name, cl.ID))
		http.Redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID), http.StatusSeeOther)
		return
	}
	p, err := c.page(w, r, a, "Client created", "clients")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Notice = fmt.Sprintf("Created the client %s.", cl.Name)
	p.Data = createdData{Client: cl, Secret: sec}
	c.pages.Render(w, r, http.StatusOK, "client_created", p)
}
