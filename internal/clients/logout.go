package clients

import (
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/models"
)

// setLogout copies l, cleaned, into c.
func setLogout(c *models.Client, l Logout) {
	c.PostLogoutRedirectURIs = cleanList(l.PostLogoutRedirectURIs)
	c.BackchannelLogoutURI = strings.TrimSpace(l.BackchannelLogoutURI)
	c.BackchannelLogoutSessionRequired = l.BackchannelLogoutSessionRequired
	c.FrontchannelLogoutURI = strings.TrimSpace(l.FrontchannelLogoutURI)
	c.FrontchannelLogoutSessionRequired = l.FrontchannelLogoutSessionRequired
}

// LogoutOf returns c's logout registration.
func LogoutOf(c models.Client) Logout {
	return Logout{
		PostLogoutRedirectURIs:            c.PostLogoutRedirectURIs,
		BackchannelLogoutURI:              c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI:             c.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: c.FrontchannelLogoutSessionRequired,
	}
}

// validateLogout checks c's logout registration: the same rules as
// redirect URIs (https, or http on a loopback host; no fragment, no user
// information). The back-channel URI is called by authgate itself; the
// outbound client decides at send time whether its address may be reached.
// A front-channel URI also goes into the logout page's
// Content-Security-Policy, so it must not carry characters that policy
// separates on.
func validateLogout(c models.Client) error {
	if len(c.PostLogoutRedirectURIs) > maxRedirectURIs {
		return apperr.Field("post_logout_redirect_uris", fmt.Sprintf("at most %d are allowed", maxRedirectURIs))
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := renameField(validateRedirectURI(u), "post_logout_redirect_uris"); err != nil {
			return err
		}
	}
	if u := c.BackchannelLogoutURI; u != "" {
		if err := renameField(validateRedirectURI(u), "backchannel_logout_uri"); err != nil {
			return err
		}
	}
	if u := c.FrontchannelLogoutURI; u != "" {
		if err := renameField(validateRedirectURI(u), "frontchannel_logout_uri"); err != nil {
			return err
		}
		if strings.ContainsAny(u, ";, '\"") {
			return apperr.Field("frontchannel_logout_uri", fmt.Sprintf("%q must not contain ';', ',', spaces or quotes", u))
		}
	}
	if c.BackchannelLogoutSessionRequired && c.BackchannelLogoutURI == "" {
		return apperr.Field("backchannel_logout_session_required", "needs a backchannel_logout_uri")
	}
	if c.FrontchannelLogoutSessionRequired && c.FrontchannelLogoutURI == "" {
		return apperr.Field("frontchannel_logout_session_required", "needs a frontchannel_logout_uri")
	}
	return nil
}

// renameField moves a field error of validateRedirectURI to field.
func renameField(err error, field string) error {
	if e, ok := apperr.As(err); ok && e.Field != "" {
		return apperr.Field(field, e.Message)
	}
	return err
}

// describeLogout summarises c's logout registration for the audit log.
func describeLogout(c models.Client) string {
	l := LogoutOf(c)
	if len(l.PostLogoutRedirectURIs) == 0 && l.BackchannelLogoutURI == "" && l.FrontchannelLogoutURI == "" {
		return ""
	}
	return fmt.Sprintf(" post_logout_redirect_uris=%s backchannel_logout_uri=%s backchannel_logout_session_required=%t frontchannel_logout_uri=%s frontchannel_logout_session_required=%t",
		strings.Join(l.PostLogoutRedirectURIs, ","), l.BackchannelLogoutURI, l.BackchannelLogoutSessionRequired,
		l.FrontchannelLogoutURI, l.FrontchannelLogoutSessionRequired)
}

// applyLogout copies the logout fields of up that are set into c.
func applyLogout(c *models.Client, up ClientUpdate) {
	l := LogoutOf(*c)
	if up.PostLogoutRedirectURIs != nil {
		l.PostLogoutRedirectURIs = *up.PostLogoutRedirectURIs
	}
	if up.BackchannelLogoutURI != nil {
		l.BackchannelLogoutURI = *up.BackchannelLogoutURI
	}
	if up.BackchannelLogoutSessionRequired != nil {
		l.BackchannelLogoutSessionRequired = *up.BackchannelLogoutSessionRequired
	}
	if up.FrontchannelLogoutURI != nil {
		l.FrontchannelLogoutURI = *up.FrontchannelLogoutURI
	}
	if up.FrontchannelLogoutSessionRequired != nil {
		l.FrontchannelLogoutSessionRequired = *up.FrontchannelLogoutSessionRequired
	}
	setLogout(c, l)
}
