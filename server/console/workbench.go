package console

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/workbench"
)

// defaultWorkbenchDays and defaultDryRunDays are the look-backs the page
// opens with.
const (
	defaultWorkbenchDays = 90
	defaultDryRunDays    = 30
)

type workbenchData struct {
	Report           workbench.Report
	DryRun           []workbench.Breakage
	Days, DryRunDays int
	// Enabled is false when the console was built without the workbench.
	Enabled bool
}

// days reads the query parameter name, def when absent or out of range.
func days(r *http.Request, name string, def int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || workbench.CheckDays(n) != nil {
		return def
	}
	return n
}

func (c *console) handleWorkbench(w http.ResponseWriter, r *http.Request, a admin) {
	d := workbenchData{Days: days(r, "days", defaultWorkbenchDays), DryRunDays: days(r, "dry_run_days", defaultDryRunDays), Enabled: c.Workbench != nil}
	if d.Enabled {
		var err error
		if d.Report, err = c.Workbench.Report(r.Context(), d.Days); err != nil {
			c.fail(w, r, err)
			return
		}
		if d.DryRun, err = c.Workbench.DryRun(r.Context(), d.DryRunDays); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	p, err := c.page(w, r, a, "Migration workbench", "workbench")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Data = d
	c.pages.Render(w, r, http.StatusOK, "workbench", p)
}

// handleDryRunCSV downloads the dry run as CSV.
func (c *console) handleDryRunCSV(w http.ResponseWriter, r *http.Request, _ admin) {
	if c.Workbench == nil {
		http.NotFound(w, r)
		return
	}
	n := days(r, "days", defaultDryRunDays)
	rows, err := c.Workbench.DryRun(r.Context(), n)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="legacy-dry-run-%s.csv"`, c.Now().UTC().Format(time.DateOnly)))
	w.Header().Set("Cache-Control", "no-store")
	if err := workbench.WriteCSV(w, rows); err != nil {
		c.Logger.WarnContext(r.Context(), "write dry run CSV", "error", err)
	}
}

func (c *console) handleWorkbenchAction(w http.ResponseWriter, r *http.Request, a admin) {
	if c.WorkbenchActor == nil {
		http.NotFound(w, r)
		return
	}
	out, err := c.WorkbenchActor.Do(r.Context(), a.actor(), r.PathValue("id"), r.PathValue("action"))
	if e, ok := apperr.As(err); ok && e.Field == "action" {
		c.setFlash(w, "Nothing was done: "+e.Message+".")
		http.Redirect(w, r, "/admin/workbench#client-"+r.PathValue("id"), http.StatusSeeOther)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.setFlash(w, out.Message)
	http.Redirect(w, r, "/admin/workbench#client-"+r.PathValue("id"), http.StatusSeeOther)
}
