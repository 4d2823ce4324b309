package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
)

// chartDays is how many days the dashboard chart covers, today included.
const chartDays = 30

// maxReportRows bounds the legacy usage table on the dashboard.
const maxReportRows = 200

type dashboardData struct {
	Chart chart
	// LegacyClients are the clients with the legacy grant on.
	LegacyClients []legacyClient
	ClientCount   int
	Usage         []usageRow
	UsageTotal    int
	// GloballyDisabled is set when configuration turns the grant off for
	// every client.
	GloballyDisabled bool
}

type legacyClient struct {
	Client   models.Client
	Users    int
	LastUsed time.Time
}

type usageRow struct {
	accounts.LegacyUsage
	// State is "on", "off" or "deleted": the client's legacy grant now.
	State string
}

func (c *console) handleDashboard(w http.ResponseWriter, r *http.Request, a admin) {
	ctx := r.Context()
	today := utcDay(c.Now())
	since := today.AddDate(0, 0, -(chartDays - 1))
	days, err := c.Accounts.DailyLogins(ctx, since)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	report, err := c.Accounts.LegacyReport(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	all, err := c.Clients.List(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.page(w, r, a, "Legacy migration", "dashboard")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	brownouts, err := c.Clients.BrownoutsEndingAfter(ctx, since)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Data = buildDashboard(days, report, all, since, today, c.Config.LegacyGrantDisabled)
	d := p.Data.(dashboardData)
	d.Chart = buildChartMarked(days, since, today, chartMarkers(all, brownouts, c.Config.LegacyGrantDisabled))
	p.Data = d
	c.pages.Render(w, r, http.StatusOK, "dashboard", p)
}

func buildDashboard(days []accounts.DayCount, report []accounts.LegacyUsage, all []models.Client, since, today time.Time, disabled bool) dashboardData {
	d := dashboardData{Chart: buildChart(days, since, today), ClientCount: len(all), GloballyDisabled: disabled}
	byClient := map[string]models.Client{}
	for _, cl := range all {
		byClient[cl.ID] = cl
	}
	type agg struct {
		users int
		last  time.Time
	}
	perClient := map[string]*agg{}
	for _, u := range report {
		g := perClient[u.ClientID]
		if g == nil {
			g = &agg{}
			perClient[u.ClientID] = g
		}
		g.users++
		if u.LastUsed.After(g.last) {
			g.last = u.LastUsed
		}
	}
	for _, cl := range all {
		if !slices.Contains(cl.GrantTypes, clients.GrantPassword) {
			continue
		}
		lc := legacyClient{Client: cl}
		if g := perClient[cl.ID]; g != nil {
			lc.Users, lc.LastUsed = g.users, g.last
		}
		d.LegacyClients = append(d.LegacyClients, lc)
	}
	// Most recently used first: those are the ones still to migrate.
	slices.SortStableFunc(d.LegacyClients, func(a, b legacyClient) int { return b.LastUsed.Compare(a.LastUsed) })
	d.UsageTotal = len(report)
	for i, u := range report {
		if i == maxReportRows {
			break
		}
		row := usageRow{LegacyUsage: u, State: "deleted"}
		if cl, ok := byClient[u.ClientID]; ok {
			row.State = "off"
			if slices.Contains(cl.GrantTypes, clients.GrantPassword) {
				row.State = "on"
			}
		}
		d.Usage = append(d.Usage, row)
	}
	return d
}

// chart is a line chart of legacy versus OAuth sign-ins per day, laid out
// for an inline SVG.
type chart struct {
	Width, Height           int
	Left, Right             int // x of the plot area's edges
	Top, Bottom             int // y of the plot area's edges
	Days                    []chartDay
	LegacyPoints            string
	OAuthPoints             string
	YTicks                  []tick
	TotalLegacy, TotalOAuth int64
	From, To                time.Time
	Desc                    string
	// SharePoints is the legacy share of each day's sign-ins, on the
	// right axis (0 to 100 %), for the days that had any.
	SharePoints string
	ShareTicks  []tick
	// Markers are the sunsets and brownouts in the chart's range; End is
	// its last day (after To when a sunset or brownout lies ahead).
	Markers []chartMarker
	End     time.Time
	// EndX and EndLabel label the end of a range reaching past today.
	EndX, EndLabel string
	PlotHeight     int
}

// chartMarker is a sunset (a line) or a brownout (a band) on the chart.
type chartMarker struct {
	Kind   string // "sunset" or "brownout"
	X, X2  string
	Width  string
	Label  string
	Title  string
	LabelY string
}

// markerSpec is a sunset or brownout before layout.
type markerSpec struct {
	Kind       string
	Start, End time.Time
	Client     string
}

// maxChartAhead bounds how far past today the chart reaches to show a
// sunset or brownout still to come.
const maxChartAhead = 90 * 24 * time.Hour

// chartMarkers lists the sunsets of clients with the legacy grant on and
// the brownouts of every client.
func chartMarkers(all []models.Client, brownouts []models.ClientBrownout, disabled bool) []markerSpec {
	names := map[string]string{}
	var out []markerSpec
	for _, cl := range all {
		names[cl.ID] = cl.Name
		if cl.LegacySunset != nil && !disabled && slices.Contains(cl.GrantTypes, clients.GrantPassword) {
			out = append(out, markerSpec{Kind: "sunset", Start: *cl.LegacySunset, End: *cl.LegacySunset, Client: cl.Name})
		}
	}
	for _, b := range brownouts {
		out = append(out, markerSpec{Kind: "brownout", Start: b.StartsAt, End: b.EndsAt, Client: cmpOr(names[b.ClientID], b.ClientID)})
	}
	return out
}

// buildChartMarked is buildChart reaching past today to the last marker
// ahead (at most maxChartAhead), with the legacy share and the markers.
func buildChartMarked(counts []accounts.DayCount, since, today time.Time, markers []markerSpec) chart {
	end := today
	for _, m := range markers {
		if d := utcDay(m.End); d.After(end) && !d.After(today.Add(maxChartAhead)) {
			end = d
		}
	}
	ch := buildChart(counts, since, today)
	ch.End, ch.PlotHeight = end, chartBottom-chartTop
	span := end.Sub(since).Hours() / 24
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 {
		d := t.Sub(since).Hours() / 24
		d = min(max(d, 0), span)
		return float64(chartLeft) + d/span*float64(chartRight-chartLeft)
	}
	// The days up to today move left to make room for what lies ahead.
	var legacyPts, oauthPts, sharePts []string
	for i := range ch.Days {
		day := &ch.Days[i]
		day.X = num(x(day.Day))
		legacyPts = append(legacyPts, day.X+","+day.YLegacy)
		oauthPts = append(oauthPts, day.X+","+day.YOAuth)
		if total := day.Legacy + day.OAuth; total > 0 {
			share := float64(day.Legacy) / float64(total)
			sharePts = append(sharePts, day.X+","+num(float64(chartBottom)-share*float64(chartBottom-chartTop)))
		}
	}
	ch.LegacyPoints, ch.OAuthPoints, ch.SharePoints = strings.Join(legacyPts, " "), strings.Join(oauthPts, " "), strings.Join(sharePts, " ")
	for i := 0; i <= 4; i++ {
		ch.ShareTicks = append(ch.ShareTicks, tick{Y: num(float64(chartBottom) - float64(i)/4*float64(chartBottom-chartTop)), Label: strconv.Itoa(i*25) + "%"})
	}
	for i, m := range markers {
		if m.End.Before(since) || utcDay(m.Start).After(end) {
			continue
		}
		cm := chartMarker{Kind: m.Kind, X: num(x(m.Start)), X2: num(x(m.End)), LabelY: strconv.Itoa(chartTop + 12 + (i%3)*12)}
		w := max(x(m.End)-x(m.Start), 3)
		cm.Width = num(w)
		if m.Kind == "sunset" {
			cm.Label = "sunset: " + m.Client
			cm.Title = fmt.Sprintf("%s: the legacy grant ends %s", m.Client, m.Start.UTC().Format(time.RFC3339))
		} else {
			cm.Label = "brownout: " + m.Client
			cm.Title = fmt.Sprintf("%s: brownout %s to %s", m.Client, m.Start.UTC().Format("2006-01-02 15:04"), m.End.UTC().Format("2006-01-02 15:04 UTC"))
		}
		ch.Markers = append(ch.Markers, cm)
	}
	if end.After(today) {
		// The last day's label stays inside; the end of the range gets its own.
		if n := len(ch.Days); n > 0 && ch.Days[n-1].Label != "" {
			ch.Days[n-1].Anchor = "middle"
		}
		ch.EndX, ch.EndLabel = num(float64(chartRight)), end.Format("Jan 2")
	}
	if len(ch.Markers) > 0 {
		var b strings.Builder
		b.WriteString(ch.Desc)
		for _, m := range ch.Markers {
			b.WriteString(" " + m.Title + ".")
		}
		ch.Desc = b.String()
	}
	return ch
}

type chartDay struct {
	Day             time.Time
	Legacy, OAuth   int64
	X               string
	YLegacy, YOAuth string
	// Label is set on the days that get an axis label; Anchor keeps the
	// first and last inside the chart.
	Label, Anchor string
}

type tick struct {
	Y     string
	Label string
}

const (
	chartWidth  = 760
	chartHeight = 300
	chartLeft   = 48
	chartRight  = chartWidth - 16
	chartTop    = 16
	chartBottom = chartHeight - 56
)

// buildChart lays out the days from since to today; days missing from
// counts (there are none when DailyLogins worked) count zero.
func buildChart(counts []accounts.DayCount, since, today time.Time) chart {
	byDay := map[time.Time]accounts.DayCount{}
	for _, dc := range counts {
		byDay[utcDay(dc.Day)] = dc
	}
	ch := chart{Width: chartWidth, Height: chartHeight, Left: chartLeft, Right: chartRight, Top: chartTop, Bottom: chartBottom, From: since, To: today}
	var maxCount int64
	for d := since; !d.After(today); d = d.AddDate(0, 0, 1) {
		dc := byDay[d]
		ch.Days = append(ch.Days, chartDay{Day: d, Legacy: dc.Legacy, OAuth: dc.OAuth})
		ch.TotalLegacy += dc.Legacy
		ch.TotalOAuth += dc.OAuth
		maxCount = max(maxCount, dc.Legacy, dc.OAuth)
	}
	step := niceStep(maxCount)
	top := step * 4
	y := func(v int64) float64 {
		return float64(chartBottom) - float64(v)/float64(top)*float64(chartBottom-chartTop)
	}
	for i := int64(0); i <= 4; i++ {
		ch.YTicks = append(ch.YTicks, tick{Y: num(y(i * step)), Label: strconv.FormatInt(i*step, 10)})
	}
	n := len(ch.Days)
	var legacyPts, oauthPts []string
	for i := range ch.Days {
		d := &ch.Days[i]
		x := float64(chartLeft)
		if n > 1 {
			x += float64(i) * float64(chartRight-chartLeft) / float64(n-1)
		}
		d.X, d.YLegacy, d.YOAuth = num(x), num(y(d.Legacy)), num(y(d.OAuth))
		if (n-1-i)%7 == 0 {
			d.Label, d.Anchor = d.Day.Format("Jan 2"), "middle"
			switch i {
			case 0:
				d.Anchor = "start"
			case n - 1:
				d.Anchor = "end"
			}
		}
		legacyPts = append(legacyPts, d.X+","+d.YLegacy)
		oauthPts = append(oauthPts, d.X+","+d.YOAuth)
	}
	ch.LegacyPoints = strings.Join(legacyPts, " ")
	ch.OAuthPoints = strings.Join(oauthPts, " ")
	ch.Desc = chartDescription(ch)
	return ch
}

// chartDescription says in words what the chart shows, for screen readers.
func chartDescription(ch chart) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From %s to %s (UTC): %d legacy password-grant sign-ins and %d OAuth login-page sign-ins.",
		ch.From.Format("2006-01-02"), ch.To.Format("2006-01-02"), ch.TotalLegacy, ch.TotalOAuth)
	if total := ch.TotalLegacy + ch.TotalOAuth; total > 0 {
		fmt.Fprintf(&b, " Legacy share: %d%%.", ch.TotalLegacy*100/total)
	}
	if n := len(ch.Days); n > 0 {
		last := ch.Days[n-1]
		fmt.Fprintf(&b, " Today: %d legacy, %d OAuth.", last.Legacy, last.OAuth)
	}
	return b.String()
}

// niceStep returns the smallest of 1, 2, 5, 10, 20, 50, ... whose four
// steps reach maxCount.
func niceStep(maxCount int64) int64 {
	for mag := int64(1); ; mag *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if s := m * mag; s*4 >= maxCount {
				return s
			}
		}
	}
}

// num formats a coordinate with at most one decimal.
func num(f float64) string {
	return strconv.FormatFloat(float64(int64(f*10+0.5))/10, 'f', -1, 64)
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
