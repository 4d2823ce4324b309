package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// DeviceUser decides, when a device's tokens are about to be issued,
// whether the user with userID, who approved the request from approverIP,
// may still have them: not when the user is gone or disabled, nor while their login
// is locked for that address (the sign-in core's lock, per user and
// source, which also refused the approval itself). result is the
// login-history result of a refusal. It implements oauth.DeviceUsers.
func (s *Service) DeviceUser(ctx context.Context, userID, approverIP string) (u models.User, ok bool, result string, err error) {
	u, err = s.GetUserByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return models.User{}, false, signin.ResultUnknownUser, nil
	}
	if err != nil {
		return models.User{}, false, "", err
	}
	if u.Disabled {
		return u, false, signin.ResultUserDisabled, nil
	}
	locked, err := s.store.LockedFrom(ctx, u.ID, storage.CounterLogin, signin.Source(approverIP), s.now())
	if err != nil {
		return models.User{}, false, "", fmt.Errorf("device user: %w", err)
	}
	if locked {
		return u, false, signin.ResultLockout, nil
	}
	return u, true, "", nil
}
