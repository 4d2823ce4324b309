package storage

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Sentinels every Store method returns, wrapped, for the cases callers
// act on. Other errors are the database's own.
var (
	// ErrNotFound means no row matched.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a row with the same unique key exists.
	ErrConflict = errors.New("conflict")
)

// mapErr turns gorm's not-found and unique-violation errors into ErrNotFound
// and ErrConflict, keeping the original in the chain. It is the one place
// that knows gorm's error values.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}
