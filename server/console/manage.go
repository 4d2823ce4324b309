package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
)

// The destructive actions of the user and client pages: each is a POST to
// ".../confirm" that shows what will happen, then a POST (with the form's
// CSRF token, like every console POST) that does it.

func (c *console) handleDeleteUserConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.deletableUser(w, r, a)
	if !ok {
		return
	}
	c.renderConfirm(w, r, a, "users", confirmData{
		Heading: fmt.Sprintf("Delete the user %s?", u.Username),
		Lines: []string{
			fmt.Sprintf("%s is removed with their browser sessions, consents and every token issued to them: applications signed in as %s stop working at once.", u.Username, u.Username),
			"Their login history and the audit log stay. This cannot be undone; disabling the user instead keeps the account.",
		},
		Action: userPage(u.Username) + "/delete",
		Submit: "Delete " + u.Username,
		Danger: true,
		Cancel: userPage(u.Username),
	})
}

func (c *console) handleDeleteUser(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.deletableUser(w, r, a)
	if !ok {
		return
	}
	err := c.Accounts.DeleteUser(r.Context(), a.actor(), u.Username)
	switch {
	case errors.Is(err, accounts.ErrLastAdmin):
		c.renderUser(w, r, a, http.StatusConflict, u, userForm{Email: u.Email, Name: u.Name},
			fmt.Sprintf("%s was not deleted: they are the last administrator who can sign in. Make someone else an administrator first.", u.Username), nil)
		return
	case errors.Is(err, accounts.ErrNotFound):
		c.showMessage(w, r, http.StatusNotFound, "User not found",
			message{Text: "There is no user with this username. It may have been deleted.", Back: "/admin/users"})
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Deleted the user %s with their sessions, consents and tokens.", u.Username))
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// deletableUser loads the user the path names, refusing the signed-in
// administrator: deleting oneself would end the session mid-request and
// could remove the last administrator by a slip.
func (c *console) deletableUser(w http.ResponseWriter, r *http.Request, a admin) (models.User, bool) {
	u, ok := c.getUser(w, r)
	if !ok {
		return u, false
	}
	if u.ID == a.User.ID {
		c.renderUser(w, r, a, http.StatusBadRequest, u, userForm{Email: u.Email, Name: u.Name}, "You cannot delete yourself: another administrator must do it.", nil)
		return u, false
	}
	return u, true
}

// clientPage is the address of a client's page.
func clientPage(id string) string { return "/admin/clients/" + url.PathEscape(id) }

// managedClient answers for the console's own client, which authgate
// maintains, and reports whether it did.
func (c *console) managedClient(w http.ResponseWriter, r *http.Request, a admin, cl models.Client, what string) bool {
	if cl.ID != ClientID {
		return false
	}
	c.renderClient(w, r, a, http.StatusConflict, cl, formOf(cl), sunsetDay(cl.LegacySunset),
		"The console's own client cannot be "+what+": authgate maintains it, and the console could not sign anyone in without it.", nil, false)
	return true
}

func (c *console) handleDeleteClientConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok || c.managedClient(w, r, a, cl, "deleted") {
		return
	}
	c.renderConfirm(w, r, a, "clients", confirmData{
		Heading: fmt.Sprintf("Delete the client %s?", cl.Name),
		Lines: []string{
			fmt.Sprintf("The client %s (%s) is removed with its tokens, authorization codes and consents: the application stops working at once.", cl.Name, cl.ID),
			"Its login history and the audit log stay. This cannot be undone.",
		},
		Action: clientPage(cl.ID) + "/delete",
		Submit: "Delete " + cl.Name,
		Danger: true,
		Cancel: clientPage(cl.ID),
	})
}

func (c *console) handleDeleteClient(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok || c.managedClient(w, r, a, cl, "deleted") {
		return
	}
	err := c.Clients.Delete(r.Context(), a.actor(), cl.ID)
	switch {
	case errors.Is(err, clients.ErrNotFound):
		c.showMessage(w, r, http.StatusNotFound, "Client not found",
			message{Text: "There is no client with this id. It may have been deleted.", Back: "/admin/clients"})
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Deleted the client %s with its tokens and consents.", cl.Name))
	http.Redirect(w, r, "/admin/clients", http.StatusSeeOther)
}

func (c *console) handleRotateSecretConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok || c.managedClient(w, r, a, cl, "given a new secret") {
		return
	}
	if cl.Public {
		c.renderClient(w, r, a, http.StatusBadRequest, cl, formOf(cl), sunsetDay(cl.LegacySunset), "A public client has no secret to replace.", nil, false)
		return
	}
	c.renderConfirm(w, r, a, "clients", confirmData{
		Heading: fmt.Sprintf("Replace the secret of %s?", cl.Name),
		Lines: []string{
			fmt.Sprintf("The current secret of %s stops working at once: the application cannot obtain tokens until it is given the new one. Tokens it already holds stay valid.", cl.Name),
			"The new secret is shown once, on the next page, and never again.",
		},
		Action: clientPage(cl.ID) + "/rotate-secret",
		Submit: "Replace the secret",
		Danger: true,
		Cancel: clientPage(cl.ID),
	})
}

// secretData is the data of the page that shows a new secret once.
type secretData struct {
	Client models.Client
	Secret string
}

func (c *console) handleRotateSecret(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok || c.managedClient(w, r, a, cl, "given a new secret") {
		return
	}
	secret, err := c.Clients.RotateSecret(r.Context(), a.actor(), cl.ID)
	switch {
	case errors.Is(err, clients.ErrPublicClient):
		c.renderClient(w, r, a, http.StatusBadRequest, cl, formOf(cl), sunsetDay(cl.LegacySunset), "A public client has no secret to replace.", nil, false)
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	p, err := c.page(w, r, a, "New client secret", "clients")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Notice = fmt.Sprintf("Replaced the secret of %s; the old one no longer works.", cl.Name)
	p.Data = secretData{Client: cl, Secret: secret}
	// The page carries a secret: web.Renderer sends it with no-store.
	c.pages.Render(w, r, http.StatusOK, "client_secret", p)
}
