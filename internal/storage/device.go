package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/authgate/authgate/models"
)

// Statuses of a device code. A code moves only forward: pending to
// approved or denied (once, by the person at /device), approved to
// redeemed (once, by the device's token request) or to denied (when its
// user may no longer have tokens).
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceRedeemed = "redeemed"
)

// SlowDownStep is what a too-early poll adds to a device code's interval,
// in seconds (RFC 8628 section 3.5).
const SlowDownStep = 5

// CreateDeviceCode stores a new device authorization request. A user
// code hash already in use (another request's, live or not yet pruned)
// is ErrConflict: the caller draws another code.
func (s *Store) CreateDeviceCode(ctx context.Context, d *models.DeviceCode) error {
	d.CreatedAt = d.CreatedAt.UTC()
	d.ExpiresAt = d.ExpiresAt.UTC()
	if err := s.conn(ctx).Create(d).Error; err != nil {
		return fmt.Errorf("create device code: %w", mapErr(err))
	}
	return nil
}

// DeviceCodeByUserCode returns the device code whose user code has the
// hash userCodeHash, if it has not expired at now; ErrNotFound otherwise.
func (s *Store) DeviceCodeByUserCode(ctx context.Context, userCodeHash string, now time.Time) (models.DeviceCode, error) {
	var d models.DeviceCode
	err := s.conn(ctx).Where("user_code_hash = ? AND expires_at > ?", userCodeHash, now.UTC()).Take(&d).Error
	if err != nil {
		return models.DeviceCode{}, fmt.Errorf("load device code: %w", mapErr(err))
	}
	return d, nil
}

// DeviceCode returns the device code with the hash deviceCodeHash, expired
// or not; ErrNotFound when there is none.
func (s *Store) DeviceCode(ctx context.Context, deviceCodeHash string) (models.DeviceCode, error) {
	var d models.DeviceCode
	if err := s.conn(ctx).Where("device_code_hash = ?", deviceCodeHash).Take(&d).Error; err != nil {
		return models.DeviceCode{}, fmt.Errorf("load device code: %w", mapErr(err))
	}
	return d, nil
}

// DeviceDecision is what the person at /device decided.
type DeviceDecision struct {
	Approve    bool
	UserID     string
	AuthTime   time.Time
	ApproverIP string
}

// DecideDeviceCode records the decision on a pending, unexpired device
// code. Exactly one decision is recorded however many arrive at once: the
// others get ErrConflict, as does a decision on a code that is no longer
// pending or has expired. ErrNotFound means there is no such code.
func (s *Store) DecideDeviceCode(ctx context.Context, deviceCodeHash string, d DeviceDecision, now time.Time) error {
	status := DeviceDenied
	if d.Approve {
		status = DeviceApproved
	}
	now = now.UTC()
	auth := d.AuthTime.UTC()
	res := s.conn(ctx).Model(&models.DeviceCode{}).
		Where("device_code_hash = ? AND status = ? AND expires_at > ?", deviceCodeHash, DevicePending, now).
		Updates(map[string]any{"status": status, "user_id": d.UserID, "auth_time": auth, "decided_at": now, "approver_ip": d.ApproverIP})
	if res.Error != nil {
		return fmt.Errorf("decide device code: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	if _, err := s.DeviceCode(ctx, deviceCodeHash); err != nil {
		return err
	}
	return fmt.Errorf("decide device code: %w", ErrConflict)
}

// PollDeviceCode records one poll of the device code with the hash
// deviceCodeHash at now and returns the code as it is after the poll.
// tooSoon is true when the poll came before the code's interval had
// passed since the previous one; the interval has then grown by
// SlowDownStep seconds, for this and every later poll. Of polls at once,
// one at most is not too soon. ErrNotFound means there is no such code.
func (s *Store) PollDeviceCode(ctx context.Context, deviceCodeHash string, now time.Time) (d models.DeviceCode, tooSoon bool, err error) {
	now = now.UTC()
	if d, err = s.DeviceCode(ctx, deviceCodeHash); err != nil {
		return models.DeviceCode{}, false, err
	}
	tooSoon = d.LastPolledAt != nil && now.Before(d.LastPolledAt.Add(time.Duration(d.Interval)*time.Second))
	interval := d.Interval
	if tooSoon {
		interval += SlowDownStep
	}
	// The poll count is the version: the poll that moves it on from what
	// it read is the one that decided on that row.
	res := s.conn(ctx).Model(&models.DeviceCode{}).
		Where("device_code_hash = ? AND polls = ?", deviceCodeHash, d.Polls).
		Updates(map[string]any{"polls": d.Polls + 1, "last_polled_at": now, "poll_interval": interval})
	if res.Error != nil {
		return models.DeviceCode{}, false, fmt.Errorf("poll device code: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		d.Polls, d.LastPolledAt, d.Interval = d.Polls+1, &now, interval
		return d, tooSoon, nil
	}
	// Another poll moved the row on since it was read: this one came at
	// the same time, so it is too soon, and slows the device down by one
	// step like any other (an increment, so no retry is needed).
	err = s.conn(ctx).Exec("UPDATE device_codes SET polls = polls + 1, last_polled_at = ?, poll_interval = poll_interval + ? WHERE device_code_hash = ?",
		now, SlowDownStep, deviceCodeHash).Error
	if err != nil {
		return models.DeviceCode{}, false, fmt.Errorf("poll device code: %w", err)
	}
	if d, err = s.DeviceCode(ctx, deviceCodeHash); err != nil {
		return models.DeviceCode{}, false, err
	}
	return d, true, nil
}

// RedeemDeviceCode marks an approved, unexpired device code redeemed.
// Exactly one of any number of concurrent redemptions succeeds; the
// others, and every later one, get ErrConflict.
func (s *Store) RedeemDeviceCode(ctx context.Context, deviceCodeHash string, now time.Time) error {
	res := s.conn(ctx).Model(&models.DeviceCode{}).
		Where("device_code_hash = ? AND status = ? AND expires_at > ?", deviceCodeHash, DeviceApproved, now.UTC()).
		Update("status", DeviceRedeemed)
	if res.Error != nil {
		return fmt.Errorf("redeem device code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("redeem device code: %w", ErrConflict)
	}
	return nil
}

// RevokeDeviceCode marks a device code denied whatever its status, so
// that every later poll is refused (its user may no longer have tokens).
func (s *Store) RevokeDeviceCode(ctx context.Context, deviceCodeHash string) error {
	err := s.conn(ctx).Model(&models.DeviceCode{}).Where("device_code_hash = ?", deviceCodeHash).
		Update("status", DeviceDenied).Error
	if err != nil {
		return fmt.Errorf("revoke device code: %w", err)
	}
	return nil
}

// DeleteExpiredDeviceCodes deletes the device codes that expired before
// cutoff.
func (s *Store) DeleteExpiredDeviceCodes(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.conn(ctx).Where("expires_at < ?", cutoff.UTC()).Delete(&models.DeviceCode{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune device codes: %w", res.Error)
	}
	return res.RowsAffected, nil
}
