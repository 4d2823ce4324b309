package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/models"
)

type trustedData struct {
	Ranges      []models.TrustedRange
	CIDR        string
	Description string
}

func (c *console) handleTrustedIPs(w http.ResponseWriter, r *http.Request, a admin) {
	c.renderTrusted(w, r, a, http.StatusOK, trustedData{}, "", nil)
}

func (c *console) renderTrusted(w http.ResponseWriter, r *http.Request, a admin, status int, d trustedData, errMsg string, fieldErrs map[string]string) {
	ranges, err := c.Trust.List(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.page(w, r, a, "Trusted IP ranges", "trusted-ips")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Ranges = ranges
	p.Error = errMsg
	p.FieldErrors = fieldErrs
	p.Data = d
	c.pages.Render(w, r, status, "trusted_ips", p)
}

func (c *console) handleAddTrustedIP(w http.ResponseWriter, r *http.Request, a admin) {
	d := trustedData{CIDR: strings.TrimSpace(r.PostFormValue("cidr")), Description: r.PostFormValue("description")}
	tr, err := c.Trust.Add(r.Context(), a.actor(), d.CIDR, d.Description)
	fe, isField := fieldErr(err)
	switch {
	case isField:
		msg, fields := fieldError(fe.Field, fe.Message)
		if fe.Field == "cidr" {
			msg = "Nothing was added: the range " + fe.Message + "."
		}
		c.renderTrusted(w, r, a, http.StatusBadRequest, d, msg, fields)
		return
	case errors.Is(err, trustedips.ErrDuplicate):
		c.renderTrusted(w, r, a, http.StatusConflict, d, "Nothing was added: this range is already trusted.",
			map[string]string{"cidr": "is already trusted"})
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Added %s. Users signing in from it with the legacy grant need only their password, without the security token.", tr.CIDR))
	http.Redirect(w, r, "/admin/trusted-ips", http.StatusSeeOther)
}

func (c *console) handleRemoveTrustedIP(w http.ResponseWriter, r *http.Request, a admin) {
	cidr := strings.TrimSpace(r.PostFormValue("cidr"))
	err := c.Trust.Remove(r.Context(), a.actor(), cidr)
	fe, isField := fieldErr(err)
	switch {
	case isField:
		c.renderTrusted(w, r, a, http.StatusBadRequest, trustedData{}, "Nothing was removed: the range "+fe.Message+".", nil)
		return
	case errors.Is(err, trustedips.ErrNotFound):
		c.renderTrusted(w, r, a, http.StatusNotFound, trustedData{}, "Nothing was removed: "+cidr+" is not a trusted range (it may have been removed already).", nil)
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Removed %s. Legacy sign-ins from it need the security token again.", cidr))
	http.Redirect(w, r, "/admin/trusted-ips", http.StatusSeeOther)
}
