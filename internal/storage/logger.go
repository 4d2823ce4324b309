package storage

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// queryLogger logs failed and slow statements to slog, without their bound
// values (secrets among them), and does no work at all for the others:
// gorm's own slog logger renders every statement before deciding not to
// log it.
type queryLogger struct {
	log  *slog.Logger
	slow time.Duration
}

var _ logger.Interface = queryLogger{}

func (l queryLogger) LogMode(logger.LogLevel) logger.Interface { return l }

func (l queryLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.InfoContext(ctx, msg, "args", args)
}

func (l queryLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, msg, "args", args)
}

func (l queryLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, msg, "args", args)
}

// Trace logs a statement that failed (other than "not found", which is an
// answer, not a failure) or took longer than the slow threshold. Only the
// parameterized SQL is logged.
func (l queryLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	failed := err != nil && !errors.Is(err, gorm.ErrRecordNotFound)
	elapsed := time.Since(begin)
	if !failed && elapsed < l.slow {
		return
	}
	sql, rows := fc()
	attrs := []any{"duration_ms", elapsed.Milliseconds(), "sql", sql, "rows", rows}
	if failed {
		l.log.WarnContext(ctx, "database statement failed", append(attrs, "error", err.Error())...)
		return
	}
	l.log.WarnContext(ctx, "slow database statement", attrs...)
}

// ParamsFilter drops bound values from what gorm renders for a log line.
func (l queryLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
