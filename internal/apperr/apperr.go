// Package apperr is authgate's one application error: a code that says
// what kind of failure it is, the input field at fault if any, and a
// message fit to show whoever made the request. Services return it (or
// wrap it with %w); each HTTP surface renders it in its own format.
//
// apperr is a leaf: it imports nothing of authgate's.
package apperr

import "errors"

// Code is the kind of an application error. Surfaces map each code to
// one HTTP status.
type Code string

// The codes. Internal is every failure that is no one's fault but the
// server's; it is what CodeOf says of an error that is not an *Error.
const (
	Invalid         Code = "invalid"
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	// TooMany refuses a request that would exceed a limit on how often it
	// may be made; the message says when it may be made again.
	TooMany     Code = "too_many"
	Unavailable Code = "unavailable"
	Internal    Code = "internal"
)

// Error is an application error. Message never holds a secret (a
// password, a token) nor the detail of an internal failure: it may be
// shown to the user as it is. The cause, if any, is kept for logs.
type Error struct {
	Code Code
	// Field names the input field at fault, for Invalid and Conflict.
	Field   string
	Message string
	// Err is the cause, for logs; never shown.
	Err error
}

// New returns an error with code and message, such as a service's
// sentinel (compare those with errors.Is).
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Field returns an Invalid error for one input field: "email: is
// required".
func Field(field, message string) *Error {
	return &Error{Code: Invalid, Field: field, Message: message}
}

// Text is what may be shown of the error: "field: message", or the
// message alone. It never holds the cause.
func (e *Error) Text() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Error reads like Text, followed by the cause.
func (e *Error) Error() string {
	s := e.Text()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// As returns the outermost *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf returns the code of the outermost *Error in err's chain, Internal
// when there is none, and "" for a nil err.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}
