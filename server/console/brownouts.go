package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
)

// handleAddBrownout schedules a brownout from the client page's form; the
// times are UTC (datetime-local inputs carry no zone).
func (c *console) handleAddBrownout(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	rawStart, rawEnd := strings.TrimSpace(r.PostFormValue("start")), strings.TrimSpace(r.PostFormValue("end"))
	refill := func(d *clientData) { d.BrownoutStart, d.BrownoutEnd = rawStart, rawEnd }
	start, err := clients.ParseBrownoutTime("start", rawStart)
	var end time.Time
	if err == nil {
		end, err = clients.ParseBrownoutTime("end", rawEnd)
	}
	if err == nil {
		var created models.ClientBrownout
		if created, err = c.Clients.AddBrownout(r.Context(), a.actor(), cl.ID, start, end); err == nil {
			c.setFlash(w, fmt.Sprintf("Scheduled brownout %d of %s: the legacy password grant is refused from %s until %s (UTC).",
				created.ID, cl.Name, created.StartsAt.UTC().Format("2006-01-02 15:04"), created.EndsAt.UTC().Format("2006-01-02 15:04")))
			http.Redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID)+"#brownouts-heading", http.StatusSeeOther)
			return
		}
	}
	if fe, ok := apperr.As(err); ok && fe.Field != "" {
		field := "brownout_" + fe.Field
		msg := fe.Message
		c.renderClientWith(w, r, a, statusOf(fe), cl, formOf(cl), sunsetDay(cl.LegacySunset),
			fmt.Sprintf("Nothing was scheduled: %s %s.", fe.Field, msg), map[string]string{field: msg}, false, refill)
		return
	}
	c.fail(w, r, err)
}

func statusOf(e *apperr.Error) int {
	if e.Code == apperr.Conflict {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

func (c *console) handleRemoveBrownout(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseUint(r.PathValue("bid"), 10, 64)
	if err != nil {
		err = clients.ErrBrownoutNotFound
	} else {
		err = c.Clients.RemoveBrownout(r.Context(), a.actor(), cl.ID, id)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, fmt.Sprintf("Removed brownout %d of %s.", id, cl.Name))
	http.Redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID)+"#brownouts-heading", http.StatusSeeOther)
}

func (c *console) handleMigrationURL(w http.ResponseWriter, r *http.Request, a admin) {
	cl, ok := c.getClient(w, r)
	if !ok {
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("migration_url"))
	updated, err := c.Clients.SetMigrationURL(r.Context(), a.actor(), cl.ID, raw)
	if fe, ok := fieldErr(err); ok {
		msg, fields := fieldError(fe.Field, fe.Message)
		c.renderClientWith(w, r, a, http.StatusBadRequest, cl, formOf(cl), sunsetDay(cl.LegacySunset), msg, fields, false,
			func(d *clientData) { d.MigrationURL = raw })
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if updated.LegacyMigrationURL == "" {
		c.setFlash(w, fmt.Sprintf("Cleared the migration guide of %s.", updated.Name))
	} else {
		c.setFlash(w, fmt.Sprintf("Brownout refusals and notices for %s now point to %s.", updated.Name, updated.LegacyMigrationURL))
	}
	http.Redirect(w, r, "/admin/clients/"+url.PathEscape(cl.ID)+"#brownouts-heading", http.StatusSeeOther)
}
