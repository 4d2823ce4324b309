package signin

// Login methods, as stored in the login history's Method.
const (
	MethodPasswordGrant = "password_grant"
	MethodLoginPage     = "login_page"
	// MethodPasskey is a passwordless sign-in with a passkey.
	MethodPasskey = "passkey"
	// MethodDevice is the device authorization grant: a user's approval
	// or denial at /device, and its tokens refused at issue.
	MethodDevice = "device"
	// MethodAppPassword is the password grant with an app password as the
	// whole password.
	MethodAppPassword = "app_password"
)

// Results recorded in the login history, in the words Salesforce admins
// know. Every channel writes these and only these; the CLI, the console
// and the admin API offer them as filters.
const (
	ResultSuccess         = "Success"
	ResultInvalidPassword = "Invalid password"
	ResultLockout         = "Password lockout"
	ResultUnknownUser     = "Unknown user"
	ResultTokenRequired   = "Failed: API security token required"
	ResultInvalidToken    = "Failed: Invalid security token"
	ResultDisabled        = "Failed: Legacy grant disabled for client"
	ResultSunset          = "Failed: Legacy grant past sunset"
	// ResultUserDisabled is an attempt for a user an administrator
	// disabled; the password is not checked.
	ResultUserDisabled = "Failed: User disabled"
	// ResultBrownout is a password grant refused during a scheduled
	// brownout of its client's legacy grant.
	ResultBrownout = "Failed: Legacy grant brownout"
	// ResultThrottled is an attempt refused because its source failed too
	// often across usernames; written once per throttling episode.
	ResultThrottled = "Failed: Too many failures from this address"
	// ResultPasskeyInvalid is a passkey assertion refused: a bad signature,
	// a credential the user does not hold (or may not use this way), a
	// challenge used, expired or begun in another browser.
	ResultPasskeyInvalid = "Failed: Invalid passkey"
	// ResultPasskeyCounter is a passkey whose signature counter did not
	// increase: a cloned authenticator or a replayed assertion.
	ResultPasskeyCounter = "Failed: Passkey counter went backwards"
	// ResultSecondFactorPending is a right password of a user who owes a
	// second factor: not a success yet, and not a failure.
	ResultSecondFactorPending = "Pending: second factor required"
	// ResultInvalidCode is a wrong TOTP or recovery code (or a passkey
	// that does not verify).
	ResultInvalidCode = "Failed: Invalid verification code"
	// ResultCodeReused is a TOTP code or recovery code already used.
	ResultCodeReused = "Failed: Verification code already used"
	// ResultSecondStepExpired is a second step completed after its expiry.
	ResultSecondStepExpired = "Failed: Second step expired"
	// ResultMFARequired is a credential the MFA policy no longer accepts
	// (a security token, a password alone) from a user who must use MFA.
	ResultMFARequired = "Failed: Multi-factor authentication required"
	// ResultDeviceDenied is a device request the user denied at /device.
	ResultDeviceDenied = "Failed: Device request denied"
	// ResultAppPasswordInvalid is a value of an app password's shape that
	// is not one of the user's.
	ResultAppPasswordInvalid = "Failed: Invalid app password"
	// ResultAppPasswordMalformed is a value that starts like an app
	// password but whose checksum does not match (a typo, a value cut
	// short).
	ResultAppPasswordMalformed = "Failed: Malformed app password"
	// ResultAppPasswordRevoked is an app password its user or an
	// administrator revoked.
	ResultAppPasswordRevoked = "Failed: App password revoked"
	// ResultAppPasswordExpired is an app password past its expiry.
	ResultAppPasswordExpired = "Failed: App password expired"
	// ResultAppPasswordWrongClient is an app password bound to another
	// client, or sent to a client that does not accept app passwords.
	ResultAppPasswordWrongClient = "Failed: App password not valid for client"
	// ResultAppPasswordScope is a request for scopes the app password does
	// not hold.
	ResultAppPasswordScope = "Failed: App password scope exceeded"
	// ResultAppPasswordRequired is a password (and security token) sent to
	// a client that accepts only app passwords.
	ResultAppPasswordRequired = "Failed: App password required"
)

// Factors recorded in the login history's Factor: the credential an
// attempt used or failed.
const (
	FactorPassword      = "password"
	FactorSecurityToken = "security_token"
	FactorTOTP          = "totp"
	FactorRecoveryCode  = "recovery_code"
	FactorPasskey       = "passkey"
	FactorAppPassword   = "app_password"
)

// Results lists every login result, success first.
func Results() []string {
	return []string{
		ResultSuccess, ResultInvalidPassword, ResultLockout, ResultUnknownUser,
		ResultTokenRequired, ResultInvalidToken, ResultDisabled, ResultSunset, ResultThrottled,
		ResultUserDisabled,
		ResultPasskeyInvalid, ResultPasskeyCounter,
		ResultSecondFactorPending, ResultInvalidCode, ResultCodeReused, ResultSecondStepExpired, ResultMFARequired,
		ResultBrownout,
		ResultDeviceDenied,
		ResultAppPasswordInvalid, ResultAppPasswordMalformed, ResultAppPasswordRevoked, ResultAppPasswordExpired,
		ResultAppPasswordWrongClient, ResultAppPasswordScope, ResultAppPasswordRequired,
	}
}
