package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/models"
)

// usersPerPage is the page size of the user list.
const usersPerPage = 50

type userRow struct {
	User         models.User
	LegacyLocked bool
	LoginLocked  bool
	// Self marks the signed-in administrator, who cannot drop their own role.
	Self bool
}

type userForm struct {
	Username, Email, Name string
	Admin                 bool
	EmailVerified         bool
}

type usersData struct {
	Q     string
	Users []userRow
	Total int64
	// First and Last number the rows shown, from 1.
	First, Last      int64
	PrevURL, NextURL string
	Form             userForm
	// Back is this listing's address, for the forms to return to.
	Back string
}

func (c *console) handleUsers(w http.ResponseWriter, r *http.Request, a admin) {
	c.renderUsers(w, r, a, http.StatusOK, userForm{}, "", nil)
}

func (c *console) renderUsers(w http.ResponseWriter, r *http.Request, a admin, status int, form userForm, errMsg string, fieldErrs map[string]string) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	pageNo := pageNumber(r.URL.Query().Get("page"))
	offset := (pageNo - 1) * usersPerPage
	users, total, err := c.Accounts.ListUsers(r.Context(), accounts.ListFilter{Query: q, Limit: usersPerPage, Offset: offset})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.page(w, r, a, "Users", "users")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := usersData{Q: q, Total: total, Form: form, Back: "/admin/users"}
	if q != "" || pageNo > 1 {
		d.Back += "?" + pageQuery(url.Values{"q": {q}}, pageNo)
	}
	for _, u := range users {
		d.Users = append(d.Users, userRow{
			User:         u,
			LegacyLocked: c.Accounts.IsLocked(u, accounts.ChannelLegacy),
			LoginLocked:  c.Accounts.IsLocked(u, accounts.ChannelLogin),
			Self:         u.ID == a.User.ID,
		})
	}
	if len(users) > 0 {
		d.First, d.Last = int64(offset)+1, int64(offset+len(users))
	}
	if pageNo > 1 {
		d.PrevURL = "/admin/users?" + pageQuery(url.Values{"q": {q}}, pageNo-1)
	}
	if int64(offset+len(users)) < total {
		d.NextURL = "/admin/users?" + pageQuery(url.Values{"q": {q}}, pageNo+1)
	}
	p.Error = errMsg
	p.FieldErrors = fieldErrs
	p.Data = d
	c.pages.Render(w, r, status, "users", p)
}

// pageNumber reads a 1-based page number; anything else is page 1.
func pageNumber(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return 1
	}
	return n
}

// pageQuery encodes the non-empty filters and, past the first, the page.
func pageQuery(filters url.Values, pageNo int) string {
	v := url.Values{}
	for k, vals := range filters {
		if len(vals) > 0 && vals[0] != "" {
			v.Set(k, vals[0])
		}
	}
	if pageNo > 1 {
		v.Set("page", strconv.Itoa(pageNo))
	}
	return v.Encode()
}

// usersBack is where a user action returns to: the listing the form was
// on, or the list filtered to the user.
func usersBack(r *http.Request, username string) string {
	if back := safeNext(r.PostFormValue("back")); strings.HasPrefix(back, "/admin/users") {
		return back
	}
	return "/admin/users?" + url.Values{"q": {username}}.Encode()
}

func (c *console) handleCreateUser(w http.ResponseWriter, r *http.Request, a admin) {
	form := userForm{
		Username: strings.TrimSpace(r.PostFormValue("username")),
		Email:    strings.TrimSpace(r.PostFormValue("email")),
		Name:     strings.TrimSpace(r.PostFormValue("name")),
		Admin:    r.PostFormValue("admin") == "on",
	}
	u, err := c.Accounts.CreateUser(r.Context(), a.actor(), accounts.NewUser{
		Username: form.Username, Email: form.Email, Name: form.Name,
		Password: r.PostFormValue("password"), Admin: form.Admin,
	})
	fe, isField := fieldErr(err)
	switch {
	case isField:
		msg, fields := fieldError(fe.Field, fe.Message)
		c.renderUsers(w, r, a, http.StatusBadRequest, form, "The user was not created: "+strings.TrimPrefix(msg, "Nothing was saved: "), fields)
		return
	case errors.Is(err, accounts.ErrDuplicateUsername):
		c.renderUsers(w, r, a, http.StatusConflict, form, "The user was not created: the username "+form.Username+" is already taken.",
			map[string]string{"username": "is already taken"})
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Created the user %s. Their security token was emailed to %s.", u.Username, u.Email))
	http.Redirect(w, r, "/admin/users?"+url.Values{"q": {u.Username}}.Encode(), http.StatusSeeOther)
}

// getUser loads the user named in the path, showing a page and returning
// false when it cannot.
func (c *console) getUser(w http.ResponseWriter, r *http.Request) (models.User, bool) {
	u, err := c.Accounts.GetUser(r.Context(), r.PathValue("username"))
	if errors.Is(err, accounts.ErrNotFound) {
		c.showMessage(w, r, http.StatusNotFound, "User not found",
			message{Text: "There is no user with this username. It may have been deleted.", Back: "/admin/users"})
		return models.User{}, false
	}
	if err != nil {
		c.fail(w, r, err)
		return models.User{}, false
	}
	return u, true
}

func (c *console) renderConfirm(w http.ResponseWriter, r *http.Request, a admin, nav string, d confirmData) {
	p, err := c.page(w, r, a, "Confirm", nav)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Data = d
	c.pages.Render(w, r, http.StatusOK, "confirm", p)
}

func (c *console) handleResetTokenConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	back := usersBack(r, u.Username)
	c.renderConfirm(w, r, a, "users", confirmData{
		Heading: fmt.Sprintf("Reset the security token of %s?", u.Username),
		Lines: []string{
			fmt.Sprintf("The current security token of %s stops working at once: applications that sign in as %s with the legacy password grant fail until they are given the new token.", u.Username, u.Username),
			fmt.Sprintf("The new token is emailed to %s. It is never shown here.", u.Email),
			"The reset is recorded in the audit log.",
		},
		Action: "/admin/users/" + url.PathEscape(u.Username) + "/reset-token",
		Fields: []field{{"back", back}},
		Submit: "Reset and email the new token",
		Danger: true,
		Cancel: back,
	})
}

func (c *console) handleResetToken(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	if err := c.Accounts.ResetToken(r.Context(), a.actor(), u.Username, false); err != nil {
		if errors.Is(err, accounts.ErrNotFound) {
			c.showMessage(w, r, http.StatusNotFound, "User not found",
				message{Text: "There is no user with this username. It may have been deleted.", Back: "/admin/users"})
			return
		}
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("A new security token was emailed to %s at %s. The previous token no longer works.", u.Username, u.Email))
	http.Redirect(w, r, usersBack(r, u.Username), http.StatusSeeOther)
}

func (c *console) handleResetMFAConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	back := userPage(u.Username)
	c.renderConfirm(w, r, a, "users", confirmData{
		Heading: fmt.Sprintf("Reset the two-step verification of %s?", u.Username),
		Lines: []string{
			fmt.Sprintf("The authenticator app and the recovery codes of %s stop working at once. At the next sign-in %s signs in with the password alone, or sets up a new app if MFA is required.", u.Username, u.Username),
			fmt.Sprintf("An email to %s says so. The reset is recorded in the audit log.", u.Email),
		},
		Action: "/admin/users/" + url.PathEscape(u.Username) + "/mfa/reset",
		Submit: "Reset two-step verification",
		Danger: true,
		Cancel: back,
	})
}

func (c *console) handleResetMFA(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	if c.MFA == nil {
		c.fail(w, r, errors.New("no second factors here"))
		return
	}
	removed, err := c.MFA.Reset(r.Context(), a.actor(), u)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if removed {
		c.setFlash(w, fmt.Sprintf("The two-step verification of %s was reset; an email to %s says so.", u.Username, u.Email))
	} else {
		c.setFlash(w, fmt.Sprintf("%s had no two-step verification; nothing changed.", u.Username))
	}
	http.Redirect(w, r, userPage(u.Username), http.StatusSeeOther)
}

func (c *console) handleUnlock(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	if err := c.Accounts.Unlock(r.Context(), a.actor(), u.Username); err != nil {
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Unlocked %s: the failure counts of the login page and the legacy grant start again from zero.", u.Username))
	http.Redirect(w, r, usersBack(r, u.Username), http.StatusSeeOther)
}

// parseAdmin reads the "admin" field of the role forms: true or false.
func parseAdmin(r *http.Request) (grant, ok bool) {
	switch r.PostFormValue("admin") {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// adminRoleRequest reads a request to give (grant) or take the admin role
// of the user it names; nobody takes it from themselves. On failure it has
// answered and returns false.
func (c *console) adminRoleRequest(w http.ResponseWriter, r *http.Request, a admin) (u models.User, grant, ok bool) {
	u, ok = c.getUser(w, r)
	if !ok {
		return u, false, false
	}
	grant, ok = parseAdmin(r)
	if !ok {
		c.renderUsers(w, r, a, http.StatusBadRequest, userForm{}, "Say whether to give or take the admin role (admin=true or false).", nil)
		return u, false, false
	}
	if !grant && u.ID == a.User.ID {
		c.renderUsers(w, r, a, http.StatusBadRequest, userForm{}, "You cannot take the admin role from yourself: another administrator must do it.", nil)
		return u, false, false
	}
	return u, grant, true
}

func (c *console) handleAdminRoleConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	u, grant, ok := c.adminRoleRequest(w, r, a)
	if !ok {
		return
	}
	back := usersBack(r, u.Username)
	d := confirmData{
		Action: "/admin/users/" + url.PathEscape(u.Username) + "/admin",
		Fields: []field{{"admin", strconv.FormatBool(grant)}, {"back", back}},
		Cancel: back,
	}
	if grant {
		d.Heading = fmt.Sprintf("Make %s an administrator?", u.Username)
		d.Lines = []string{
			fmt.Sprintf("%s will be able to use this console and the admin API: manage clients, users, security tokens and trusted IP ranges.", u.Username),
			"The change is recorded in the audit log.",
		}
		d.Submit = "Give the admin role"
		d.Danger = true
	} else {
		d.Heading = fmt.Sprintf("Take the admin role from %s?", u.Username)
		d.Lines = []string{
			fmt.Sprintf("%s will no longer be able to use this console or the admin API; a console session they have open ends at their next request.", u.Username),
			"The change is recorded in the audit log.",
		}
		d.Submit = "Take the admin role"
	}
	c.renderConfirm(w, r, a, "users", d)
}

func (c *console) handleAdminRole(w http.ResponseWriter, r *http.Request, a admin) {
	u, grant, ok := c.adminRoleRequest(w, r, a)
	if !ok {
		return
	}
	if _, err := c.Accounts.UpdateUser(r.Context(), a.actor(), u.Username, accounts.UserUpdate{Admin: &grant}); err != nil {
		c.fail(w, r, err)
		return
	}
	if grant {
		c.setFlash(w, fmt.Sprintf("%s is now an administrator.", u.Username))
	} else {
		c.setFlash(w, fmt.Sprintf("%s is no longer an administrator.", u.Username))
	}
	http.Redirect(w, r, usersBack(r, u.Username), http.StatusSeeOther)
}

// userData is the data of one user's page.
type userData struct {
	User         models.User
	LegacyLocked bool
	LoginLocked  bool
	Self         bool
	Form         userForm
	Back         string
	// MFA is the user's second factors, nil when unknown.
	MFA *mfa.Factors
	// AppPasswords are the user's app passwords (revoked ones too), nil
	// when the console has none to show.
	AppPasswords []apppasswords.View
}

func (c *console) handleUser(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	c.renderUser(w, r, a, http.StatusOK, u, userForm{Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified}, "", nil)
}

func (c *console) renderUser(w http.ResponseWriter, r *http.Request, a admin, status int, u models.User, form userForm, errMsg string, fieldErrs map[string]string) {
	p, err := c.page(w, r, a, "User "+u.Username, "users")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Error = errMsg
	p.FieldErrors = fieldErrs
	p.Data = userData{
		User:         u,
		LegacyLocked: c.Accounts.IsLocked(u, accounts.ChannelLegacy),
		LoginLocked:  c.Accounts.IsLocked(u, accounts.ChannelLogin),
		Self:         u.ID == a.User.ID,
		Form:         form,
		Back:         userPage(u.Username),
	}
	if c.MFA != nil {
		fs, err := c.MFA.List(r.Context(), u.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d := p.Data.(userData)
		d.MFA = &fs
		p.Data = d
	}
	if c.AppPasswords != nil {
		list, err := c.AppPasswords.List(r.Context(), u.ID, true)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d := p.Data.(userData)
		d.AppPasswords = apppasswords.Views(list, c.Now())
		p.Data = d
	}
	c.pages.Render(w, r, status, "user", p)
}

// handleRevokeAppPassword revokes one app password of the user (audited);
// the tokens it obtained stop working at once.
func (c *console) handleRevokeAppPassword(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	if c.AppPasswords == nil {
		c.fail(w, r, errors.New("no app passwords here"))
		return
	}
	if err := c.AppPasswords.Revoke(r.Context(), a.actor(), u.ID, r.PathValue("id")); err != nil {
		if errors.Is(err, apppasswords.ErrNotFound) {
			c.showMessage(w, r, http.StatusNotFound, "App password not found",
				message{Text: "This user has no such app password.", Back: userPage(u.Username)})
			return
		}
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("The app password of %s was revoked: it no longer works, nor do the tokens it obtained.", u.Username))
	http.Redirect(w, r, userPage(u.Username), http.StatusSeeOther)
}

// userPage is the address of a user's page.
func userPage(username string) string { return "/admin/users/" + url.PathEscape(username) }

// handleUpdateUser saves the email and name of the user's settings form,
// both or neither.
func (c *console) handleUpdateUser(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	form := userForm{
		Username: u.Username,
		Email:    strings.TrimSpace(r.PostFormValue("email")),
		Name:     strings.TrimSpace(r.PostFormValue("name")),
		// The box marks the address verified (or not) by the administrator.
		EmailVerified: r.PostFormValue("email_verified") == "true",
	}
	updated, err := c.Accounts.UpdateUser(r.Context(), a.actor(), u.Username, accounts.UserUpdate{Email: &form.Email, Name: &form.Name, EmailVerified: &form.EmailVerified})
	fe, isField := fieldErr(err)
	switch {
	case isField:
		msg, fields := fieldError(fe.Field, fe.Message)
		c.renderUser(w, r, a, http.StatusBadRequest, u, form, msg, fields)
		return
	case errors.Is(err, accounts.ErrNotFound):
		c.showMessage(w, r, http.StatusNotFound, "User not found",
			message{Text: "There is no user with this username. It may have been deleted.", Back: "/admin/users"})
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Saved the changes to %s.", updated.Username))
	http.Redirect(w, r, userPage(updated.Username), http.StatusSeeOther)
}

// disableRequest reads a request to disable (true) or enable (false) the
// user it names; nobody disables themselves. On failure it has answered
// and returns false.
func (c *console) disableRequest(w http.ResponseWriter, r *http.Request, a admin) (u models.User, disable, ok bool) {
	u, ok = c.getUser(w, r)
	if !ok {
		return u, false, false
	}
	switch r.PostFormValue("disabled") {
	case "true":
		disable = true
	case "false":
	default:
		c.renderUser(w, r, a, http.StatusBadRequest, u, userForm{Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified}, "Say whether to disable or enable the user (disabled=true or false).", nil)
		return u, false, false
	}
	if disable && u.ID == a.User.ID {
		c.renderUser(w, r, a, http.StatusBadRequest, u, userForm{Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified}, "You cannot disable yourself: another administrator must do it.", nil)
		return u, false, false
	}
	return u, disable, true
}

func (c *console) handleDisableConfirm(w http.ResponseWriter, r *http.Request, a admin) {
	u, disable, ok := c.disableRequest(w, r, a)
	if !ok {
		return
	}
	back := userPage(u.Username)
	d := confirmData{
		Action: back + "/disabled",
		Fields: []field{{"disabled", strconv.FormatBool(disable)}},
		Cancel: back,
	}
	if disable {
		d.Heading = fmt.Sprintf("Disable %s?", u.Username)
		d.Lines = []string{
			fmt.Sprintf("%s can no longer sign in anywhere: the login page, the legacy password grant and every other way in refuse them.", u.Username),
			fmt.Sprintf("Their browser sessions and every token issued to them end at once. The account, its security token and its history stay; enabling %s lets them sign in again.", u.Username),
			"The change is recorded in the audit log.",
		}
		d.Submit = "Disable " + u.Username
		d.Danger = true
	} else {
		d.Heading = fmt.Sprintf("Enable %s?", u.Username)
		d.Lines = []string{
			fmt.Sprintf("%s can sign in again with their password (and security token where it is required).", u.Username),
			"The change is recorded in the audit log.",
		}
		d.Submit = "Enable " + u.Username
	}
	c.renderConfirm(w, r, a, "users", d)
}

func (c *console) handleDisable(w http.ResponseWriter, r *http.Request, a admin) {
	u, disable, ok := c.disableRequest(w, r, a)
	if !ok {
		return
	}
	_, err := c.Accounts.UpdateUser(r.Context(), a.actor(), u.Username, accounts.UserUpdate{Disabled: &disable})
	switch {
	case errors.Is(err, accounts.ErrLastAdmin):
		c.renderUser(w, r, a, http.StatusConflict, u, userForm{Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified},
			fmt.Sprintf("%s was not disabled: they are the last administrator who can sign in. Make someone else an administrator first.", u.Username), nil)
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	if disable {
		c.setFlash(w, fmt.Sprintf("Disabled %s: they cannot sign in, and their sessions and tokens have ended.", u.Username))
	} else {
		c.setFlash(w, fmt.Sprintf("Enabled %s: they can sign in again.", u.Username))
	}
	http.Redirect(w, r, userPage(u.Username), http.StatusSeeOther)
}

// handleRequireMFA makes a second factor required (required=true) or
// optional again (false) for one user; the change is audited.
func (c *console) handleRequireMFA(w http.ResponseWriter, r *http.Request, a admin) {
	u, ok := c.getUser(w, r)
	if !ok {
		return
	}
	var required bool
	switch r.PostFormValue("required") {
	case "true":
		required = true
	case "false":
	default:
		c.showMessage(w, r, http.StatusBadRequest, "Nothing changed",
			message{Text: "The form asked neither to require a second factor nor to make it optional.", Back: userPage(u.Username)})
		return
	}
	if _, err := c.Accounts.UpdateUser(r.Context(), a.actor(), u.Username, accounts.UserUpdate{RequireMFA: &required}); err != nil {
		c.fail(w, r, err)
		return
	}
	if required {
		c.setFlash(w, fmt.Sprintf("%s must now sign in with a second factor; without one they set it up at their next sign-in.", u.Username))
	} else {
		c.setFlash(w, fmt.Sprintf("A second factor is now optional for %s (unless the server's policy or a client requires one).", u.Username))
	}
	http.Redirect(w, r, userPage(u.Username), http.StatusSeeOther)
}
