package console

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// consoleCSS is what the console adds to the public pages' stylesheet.
//
//go:embed static/console.css
var consoleCSS []byte

// page is the data every template gets.
type page struct {
	Title        string
	Organization string
	// Username is the signed-in administrator; empty on pages shown
	// before or instead of a sign-in.
	Username string
	CSRF     string
	// Nav names the section the page belongs to, for aria-current.
	Nav    string
	Error  string
	Notice string
	// FieldErrors maps a form field to the message shown next to it.
	FieldErrors map[string]string
	Data        any
}

// message is the data of the "message" page: errors, refusals, sign-out.
type message struct {
	Text string
	// SignIn, when set, is the URL of a "Sign in" link (id "sign-in").
	SignIn string
	// Back, when set, links back into the console.
	Back string
}

// pageNames lists every page template; each is parsed with the layout.
var pageNames = []string{
	"message", "signout", "dashboard", "clients", "client", "client_new", "client_created", "confirm",
	"users", "trusted_ips", "login_history", "user", "client_secret", "audit",
	"workbench",
}

var funcs = template.FuncMap{
	"when":  formatTime,
	"whens": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"whenp": formatTimePtr,
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	// lastday shows a sunset as the last day the legacy grant works.
	"lastday": clients.SunsetLastDay,
	"join":    strings.Join,
	"has":     slices.Contains[[]string],
	"idsafe":  idSafe,
	// The client form's choices (client_auth_fields).
	"authMethods":   func() []string { return oauth.AuthMethods },
	"assertionAlgs": func() []string { return oauth.AssertionAlgs },
}

// newRenderer parses every console page with the layout.
func newRenderer(logger *slog.Logger) (*web.Renderer[page], error) {
	return web.NewRenderer[page](logger, "console template", templateFS, funcs, pageNames...)
}

// staticHandler serves the console's stylesheet: the public pages' rules
// and the console's own.
func staticHandler() http.Handler {
	return web.StaticHandler("/admin/static/", consoleCSS)
}

const timeLayout = "2006-01-02 15:04 UTC"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(timeLayout)
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

// sunsetDay is the date shown and edited for a sunset: the last day the
// legacy grant works (clients.SunsetLastDay), or "" for none.
func sunsetDay(t *time.Time) string {
	if t == nil {
		return ""
	}
	return clients.SunsetLastDay(*t)
}

// idSafe turns s into something usable inside an element id and a CSS
// selector: every character other than a letter, digit, '-' or '_' becomes
// '-'. Client ids and usernames mostly pass through unchanged.
func idSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// page starts the data of a page for the signed-in administrator a.
func (c *console) page(w http.ResponseWriter, r *http.Request, a admin, title, nav string) (page, error) {
	csrf, err := c.csrfToken(w, r)
	if err != nil {
		return page{}, err
	}
	return page{
		Title:        title,
		Organization: c.Config.Organization,
		Username:     a.User.Username,
		CSRF:         csrf,
		Nav:          nav,
		Notice:       c.takeFlash(w, r),
	}, nil
}

// showMessage renders the message page outside a session.
func (c *console) showMessage(w http.ResponseWriter, r *http.Request, status int, title string, m message) {
	p := page{Title: title, Organization: c.Config.Organization, Data: m}
	if status >= 400 {
		p.Error = m.Text
		m.Text = ""
		p.Data = m
	}
	c.pages.Render(w, r, status, "message", p)
}

// fail shows the page for an error the administrator cannot fix on the
// form: its status and wording come from web.Problem (a database that
// cannot be reached is a 503 that says to try again), and the server's
// own faults are logged, never shown.
func (c *console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, e := web.Problem(r.Context(), err)
	title, text := "Something went wrong", "The console could not complete this request. The error was logged; try again in a moment."
	switch {
	case e.Code == apperr.Unavailable:
		w.Header().Set("Retry-After", "5")
		title, text = "Temporarily unavailable", "The console cannot reach the database right now, so nothing was changed. Try again in a moment."
	case e.Code == apperr.NotFound:
		title, text = "Not found", "Nothing was changed: "+e.Text()+"."
	case status < http.StatusInternalServerError:
		title, text = "Request refused", "Nothing was changed: "+e.Text()+"."
	}
	if status >= http.StatusInternalServerError {
		c.Logger.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	}
	c.showMessage(w, r, status, title, message{Text: text, Back: "/admin/"})
}

// fieldErr returns err's invalid input field, if it has one: the forms
// show those next to the field.
func fieldErr(err error) (*apperr.Error, bool) {
	e, ok := apperr.As(err)
	return e, ok && e.Code == apperr.Invalid && e.Field != ""
}
