package signin

import "time"

// SprayGuardForTest exposes the spray throttle to the external tests.
type SprayGuardForTest struct{ g *sprayGuard }

func NewSprayGuardForTest(threshold int, window, backoff time.Duration) SprayGuardForTest {
	return SprayGuardForTest{newSprayGuard(threshold, window, backoff)}
}

func (s SprayGuardForTest) Failed(source string, now time.Time) bool { return s.g.failed(source, now) }
func (s SprayGuardForTest) Blocked(source string, now time.Time) (bool, bool) {
	return s.g.blocked(source, now)
}
