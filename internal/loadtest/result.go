package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. Every counted request is either a
// success or exactly one kind of failure: an unexpected HTTP status
// (Errors.ByStatus, which Errors.ByOAuthError breaks down further), a
// transport error, or a protocol error. So Requests always equals
// Successes + Errors.Total().
type Result struct {
	Scenario    string
	Endpoint    string // the URL under load; for authorization_code, the authorization endpoint
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration // from the end of the warm-up to the last counted response
	Requests    int64         // for authorization_code, one request is one whole flow
	Successes   int64
	Latency     Latency
	Errors      Errors
	// Interrupted is set when the context ended before the run did; the
	// counts cover what was measured until then.
	Interrupted bool
}

// Failures returns the number of counted requests that did not succeed.
func (r Result) Failures() int64 { return r.Requests - r.Successes }

// Rate returns counted requests per second.
func (r Result) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// Latency summarises the time of every counted request that was sent,
// failed ones included. Percentiles are exact (nearest rank over all
// samples), not estimated from buckets.
type Latency struct {
	P50, P90, P99, Max, Mean time.Duration
	Samples                  int
}

// Errors counts failed requests. A failure is counted once, in ByStatus,
// Transport or Protocol; ByOAuthError breaks the ByStatus failures down by
// the OAuth "error" code of the response, where it had one.
type Errors struct {
	// ByStatus counts responses whose HTTP status the scenario did not
	// expect (for a token request, anything but 2xx).
	ByStatus map[int]int64
	// ByOAuthError counts the OAuth error codes of those responses, taken
	// from the JSON "error" member, the WWW-Authenticate header, or the
	// error parameter of a redirect to the client.
	ByOAuthError map[string]int64
	// Transport counts requests that got no complete response, by kind
	// ("timeout", "connection refused", ...).
	Transport map[string]int64
	// Protocol counts 2xx or redirect responses that broke the protocol,
	// such as a token response without an access token or a redirect whose
	// state does not match.
	Protocol map[string]int64
}

// Total returns the number of failed requests.
func (e Errors) Total() int64 {
	var n int64
	for _, v := range e.ByStatus {
		n += v
	}
	for _, v := range e.Transport {
		n += v
	}
	for _, v := range e.Protocol {
		n += v
	}
	return n
}

func newErrors() Errors {
	return Errors{ByStatus: map[int]int64{}, ByOAuthError: map[string]int64{}, Transport: map[string]int64{}, Protocol: map[string]int64{}}
}

func (e Errors) add(o outcome) {
	switch {
	case o.status != 0:
		e.ByStatus[o.status]++
		if o.oauthError != "" {
			e.ByOAuthError[o.oauthError]++
		}
	case o.transport != "":
		e.Transport[o.transport]++
	case o.protocol != "":
		e.Protocol[o.protocol]++
	}
}

func (e Errors) merge(o Errors) {
	for k, v := range o.ByStatus {
		e.ByStatus[k] += v
	}
	for k, v := range o.ByOAuthError {
		e.ByOAuthError[k] += v
	}
	for k, v := range o.Transport {
		e.Transport[k] += v
	}
	for k, v := range o.Protocol {
		e.Protocol[k] += v
	}
}

// percentile returns the nearest-rank percentile of sorted samples, with
// p in thousandths (500 is the median, 990 the 99th percentile): the
// smallest sample that at least p/1000 of all samples do not exceed.
// Integer arithmetic keeps the rank exact.
func percentile(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 999) / 1000
	rank = max(rank, 1)
	rank = min(rank, n)
	return sorted[rank-1]
}

// summarize sorts samples in place and computes their latency summary.
func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Latency{
		P50:     percentile(samples, 500),
		P90:     percentile(samples, 900),
		P99:     percentile(samples, 990),
		Max:     samples[len(samples)-1],
		Mean:    sum / time.Duration(len(samples)),
		Samples: len(samples),
	}
}

// unit names what one request is in the report.
func (r Result) unit() string {
	if r.Scenario == AuthorizationCode {
		return "flows"
	}
	return "requests"
}

// WriteText writes the human-readable report. It never contains a
// credential: only the scenario, the endpoint and the counts.
func (r Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "endpoint\t%s\n", r.Endpoint)
	run := fmt.Sprintf("%d workers, %s measured", r.Concurrency, fmtSeconds(r.Duration))
	if r.Warmup > 0 {
		run += fmt.Sprintf(" after %s warm-up", r.Warmup)
	}
	if r.Interrupted {
		run += " (interrupted)"
	}
	fmt.Fprintf(tw, "run\t%s\n", run)
	fmt.Fprintf(tw, "%s\t%d (%d succeeded, %d failed)\n", r.unit(), r.Requests, r.Successes, r.Failures())
	fmt.Fprintf(tw, "throughput\t%.1f %s/s\n", r.Rate(), r.unit())
	l := r.Latency
	fmt.Fprintf(tw, "latency\tp50 %s  p90 %s  p99 %s  max %s  mean %s\n", fmtLatency(l.P50), fmtLatency(l.P90), fmtLatency(l.P99), fmtLatency(l.Max), fmtLatency(l.Mean))
	if r.Errors.Total() == 0 {
		fmt.Fprintf(tw, "errors\tnone\n")
		return tw.Flush()
	}
	fmt.Fprintf(tw, "errors\t%d\n", r.Errors.Total())
	if err := tw.Flush(); err != nil {
		return err
	}
	// The breakdown aligns on its own, not with the labels above.
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, status := range slices.Sorted(maps.Keys(r.Errors.ByStatus)) {
		fmt.Fprintf(tw, "  HTTP %d\t%d\n", status, r.Errors.ByStatus[status])
	}
	for _, code := range slices.Sorted(maps.Keys(r.Errors.ByOAuthError)) {
		fmt.Fprintf(tw, "  OAuth error %s\t%d\n", code, r.Errors.ByOAuthError[code])
	}
	for _, kind := range slices.Sorted(maps.Keys(r.Errors.Transport)) {
		fmt.Fprintf(tw, "  transport: %s\t%d\n", kind, r.Errors.Transport[kind])
	}
	for _, kind := range slices.Sorted(maps.Keys(r.Errors.Protocol)) {
		fmt.Fprintf(tw, "  protocol: %s\t%d\n", kind, r.Errors.Protocol[kind])
	}
	return tw.Flush()
}

func fmtSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

func fmtLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	default:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	}
}

// resultJSON is the stable machine-readable form of a Result: durations in
// seconds or milliseconds, map keys as strings, empty maps as {}.
type resultJSON struct {
	Scenario          string      `json:"scenario"`
	Endpoint          string      `json:"endpoint"`
	Concurrency       int         `json:"concurrency"`
	WarmupSeconds     float64     `json:"warmup_seconds"`
	DurationSeconds   float64     `json:"duration_seconds"`
	Requests          int64       `json:"requests"`
	Successes         int64       `json:"successes"`
	Failures          int64       `json:"failures"`
	RequestsPerSecond float64     `json:"requests_per_second"`
	LatencyMS         latencyJSON `json:"latency_ms"`
	Errors            errorsJSON  `json:"errors"`
	Interrupted       bool        `json:"interrupted"`
}

type latencyJSON struct {
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	Mean    float64 `json:"mean"`
	Samples int     `json:"samples"`
}

type errorsJSON struct {
	ByStatus     map[string]int64 `json:"by_status"`
	ByOAuthError map[string]int64 `json:"by_oauth_error"`
	Transport    map[string]int64 `json:"transport"`
	Protocol     map[string]int64 `json:"protocol"`
}

// ms converts d to milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func round(f float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(f*p) / p
}

// MarshalJSON encodes the result in the documented --json schema.
func (r Result) MarshalJSON() ([]byte, error) {
	byStatus := make(map[string]int64, len(r.Errors.ByStatus))
	for k, v := range r.Errors.ByStatus {
		byStatus[strconv.Itoa(k)] = v
	}
	nonNil := func(m map[string]int64) map[string]int64 {
		if m == nil {
			return map[string]int64{}
		}
		return m
	}
	return json.Marshal(resultJSON{
		Scenario:          r.Scenario,
		Endpoint:          r.Endpoint,
		Concurrency:       r.Concurrency,
		WarmupSeconds:     r.Warmup.Seconds(),
		DurationSeconds:   round(r.Duration.Seconds(), 3),
		Requests:          r.Requests,
		Successes:         r.Successes,
		Failures:          r.Failures(),
		RequestsPerSecond: round(r.Rate(), 1),
		LatencyMS: latencyJSON{
			P50: ms(r.Latency.P50), P90: ms(r.Latency.P90), P99: ms(r.Latency.P99),
			Max: ms(r.Latency.Max), Mean: ms(r.Latency.Mean), Samples: r.Latency.Samples,
		},
		Errors: errorsJSON{
			ByStatus:     byStatus,
			ByOAuthError: nonNil(r.Errors.ByOAuthError),
			Transport:    nonNil(r.Errors.Transport),
			Protocol:     nonNil(r.Errors.Protocol),
		},
		Interrupted: r.Interrupted,
	})
}
