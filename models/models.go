package models

import "time"

// Client is an OAuth 2.0 client registration.
type Client struct {
	ID   string `gorm:"primaryKey;size:64"`
	Name string `gorm:"size:200;not null"`
	// SecretHash is "hmac-sha256$..." for generated secrets or
	// "argon2id$..." for secrets an admin chose; empty for public clients.
	SecretHash    string   `gorm:"size:255"`
	RedirectURIs  []string `gorm:"serializer:json"`
	GrantTypes    []string `gorm:"serializer:json"`
	ResponseTypes []string `gorm:"serializer:json"`
	Scopes        []string `gorm:"serializer:json"`
	Audience      []string `gorm:"serializer:json"`
	Public        bool     `gorm:"not null;default:false"`
	FirstParty    bool     `gorm:"not null;default:false"`
	// AccessTokenFormat is "opaque" or "jwt".
	AccessTokenFormat string `gorm:"size:16;not null;default:opaque"`
	// LegacySunset, when set, is the moment the password grant ends for this client.
	LegacySunset *time.Time
	// LegacyDeprecatedAt is when the sunset was announced.
	LegacyDeprecatedAt *time.Time
	// PostLogoutRedirectURIs are where a logout the client starts may send
	// the browser back to (exact match).
	PostLogoutRedirectURIs []string `gorm:"serializer:json"`
	// BackchannelLogoutURI receives a logout token when a session that
	// signed in to the client ends; empty for none.
	BackchannelLogoutURI string `gorm:"size:2000;not null;default:''"`
	// BackchannelLogoutSessionRequired asks for sid in logout tokens.
	BackchannelLogoutSessionRequired bool `gorm:"not null;default:false"`
	// FrontchannelLogoutURI is framed by the logout page; empty for none.
	FrontchannelLogoutURI string `gorm:"size:2000;not null;default:''"`
	// FrontchannelLogoutSessionRequired adds iss and sid to the framed URI.
	FrontchannelLogoutSessionRequired bool `gorm:"not null;default:false"`
	CreatedAt                         time.Time
	UpdatedAt                         time.Time
	// RequireMFA makes every user of this client sign in with a second
	// factor (enrolling one first), and on the password grant with a TOTP
	// code in place of the security token.
	RequireMFA bool `gorm:"column:require_mfa;not null;default:false"`
	// LegacyMigrationURL, when set, is where the client's owners read how
	// to move off the password grant; brownout refusals and sunset notices
	// name it.
	LegacyMigrationURL string `gorm:"size:2048;not null;default:''"`
	// LegacyCredentials is what the password grant accepts from this
	// client's users: "token" (password + security token, the default),
	// "app_password" or "both".
	LegacyCredentials string `gorm:"size:16;not null;default:token"`
	// IDTokenAlg is the JWS algorithm of the client's ID tokens and logout
	// tokens (id_token_signed_response_alg): RS256, ES256 or EdDSA.
	IDTokenAlg string `gorm:"column:id_token_signed_response_alg;size:16;not null;default:RS256"`
	// AccessTokenAlg is the JWS algorithm of its JWT access tokens.
	AccessTokenAlg string `gorm:"column:access_token_signed_response_alg;size:16;not null;default:RS256"`
	// SalesforceCompat adds Salesforce's fields (id, instance_url,
	// issued_at, signature) to the client's password grant responses.
	SalesforceCompat bool `gorm:"not null;default:false"`
	// InstanceURL is the instance_url of those responses.
	InstanceURL string `gorm:"size:2048;not null;default:''"`
	// ClientAuth is how the client authenticates and how it sends
	// authorization requests (migration 0015).
	ClientAuth `gorm:"embedded"`
}

// ClientAuth is a client's authentication method and request policy.
type ClientAuth struct {
	// TokenEndpointAuthMethod is "client_secret_basic" or
	// "client_secret_post" (a secret, sent either way), "private_key_jwt"
	// (RFC 7523: a JWT signed with a key of JWKS or JWKSURI) or "none"
	// (public clients).
	TokenEndpointAuthMethod string `gorm:"size:32;not null;default:client_secret_basic"`
	// TokenEndpointAuthSigningAlg is the one algorithm a private_key_jwt
	// client signs its assertions with.
	TokenEndpointAuthSigningAlg string `gorm:"size:16;not null;default:''"`
	// JWKS is the client's public key set (JSON), registered inline; empty
	// when it has none or registered JWKSURI instead.
	JWKS string `gorm:"column:jwks;not null;default:''"`
	// JWKSURI is where the client publishes its public key set.
	JWKSURI string `gorm:"column:jwks_uri;size:2000;not null;default:''"`
	// RequirePAR refuses authorization requests that were not pushed
	// first (RFC 9126).
	RequirePAR bool `gorm:"column:require_par;not null;default:false"`
	// RequirePKCE makes a confidential client send a PKCE challenge too
	// (public clients always must).
	RequirePKCE bool `gorm:"column:require_pkce;not null;default:false"`
}

// ClientAssertionJTI is the jti of a client assertion (RFC 7523) that
// was accepted, kept as a keyed hash until the assertion expires, so that
// no replica accepts it a second time.
type ClientAssertionJTI struct {
	JTIHash   string    `gorm:"primaryKey;size:64"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// PushedAuthRequest is a pushed authorization request (RFC 9126) waiting
// to be used: its request_uri is kept as a keyed hash; Data is the
// validated request (JSON, without credentials).
type PushedAuthRequest struct {
	RequestURIHash string    `gorm:"primaryKey;size:64"`
	ClientID       string    `gorm:"size:64;not null;index"`
	Data           []byte    `gorm:"not null"`
	CreatedAt      time.Time `gorm:"not null"`
	ExpiresAt      time.Time `gorm:"not null;index"`
}

// What a client's password grant accepts (Client.LegacyCredentials).
const (
	// LegacyToken is the password followed by the security token (or, from
	// a trusted range, the password alone): Salesforce's model.
	LegacyToken = "token"
	// LegacyAppPassword is an app password as the whole password, only.
	LegacyAppPassword = "app_password"
	// LegacyBoth accepts either.
	LegacyBoth = "both"
)

// LegacyCredentialChoices lists the values of Client.LegacyCredentials.
func LegacyCredentialChoices() []string { return []string{LegacyToken, LegacyAppPassword, LegacyBoth} }

// AcceptsToken reports whether the client's password grant takes a
// password with a security token (the default, also for an empty value).
func (c Client) AcceptsToken() bool {
	return c.LegacyCredentials == "" || c.LegacyCredentials == LegacyToken || c.LegacyCredentials == LegacyBoth
}

// AcceptsAppPasswords reports whether the client's password grant takes
// app passwords.
func (c Client) AcceptsAppPasswords() bool {
	return c.LegacyCredentials == LegacyAppPassword || c.LegacyCredentials == LegacyBoth
}

// ClientBrownout is a window, before a client's sunset, during which the
// password grant is refused for the client (tokens it issued earlier keep
// working): a scheduled warning, so that owners find what still depends on
// the grant while there is time.
type ClientBrownout struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement"`
	ClientID  string    `gorm:"size:64;not null;index:idx_client_brownouts_client_id,priority:1"`
	StartsAt  time.Time `gorm:"not null;index:idx_client_brownouts_client_id,priority:2"`
	EndsAt    time.Time `gorm:"not null"`
	CreatedBy string    `gorm:"size:200;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// LegacyNotice records that a user was sent the notice of a client's
// sunset at one milestone (days before it); its key makes the notice go out
// once across replicas.
type LegacyNotice struct {
	ClientID string    `gorm:"primaryKey;size:64"`
	UserID   string    `gorm:"primaryKey;size:64"`
	Sunset   time.Time `gorm:"primaryKey"`
	Days     int       `gorm:"primaryKey;autoIncrement:false"`
	SentAt   time.Time `gorm:"not null"`
}

// User is a person who signs in.
type User struct {
	ID           string `gorm:"primaryKey;size:64"`
	Username     string `gorm:"size:200;not null;uniqueIndex"`
	Email        string `gorm:"size:320;not null"`
	Name         string `gorm:"size:200"`
	PasswordHash string `gorm:"size:255;not null"`
	Admin        bool   `gorm:"not null;default:false"`
	// Disabled users keep their account but cannot sign in on any channel.
	Disabled bool `gorm:"not null;default:false"`
	// SecurityTokenHash is the keyed hash of the current security token.
	// The unique index guarantees no two users hold the same token.
	SecurityTokenHash string `gorm:"size:64;uniqueIndex"`
	TokenIssuedAt     time.Time
	PasswordChangedAt time.Time
	// Legacy* and Login* count consecutive failures of the password grant and
	// of the login page separately, so that one cannot lock the other out.
	LegacyFailures    int `gorm:"not null;default:0"`
	LegacyLockedUntil *time.Time
	LoginFailures     int `gorm:"not null;default:0"`
	LoginLockedUntil  *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
	// RequireMFA makes this user sign in with a second factor everywhere,
	// and on the password grant with a TOTP code in place of the token.
	RequireMFA bool `gorm:"column:require_mfa;not null;default:false"`
	// EmailVerified says the user confirmed Email by following a link
	// sent to it (or an administrator marked it so); ID tokens and
	// userinfo carry it as email_verified.
	EmailVerified bool `gorm:"not null;default:false"`
}

// SecurityTokenHistory remembers every token hash ever issued so that no
// token is issued twice.
type SecurityTokenHistory struct {
	Hash      string `gorm:"primaryKey;size:64"`
	UserID    string `gorm:"size:64;not null;index"`
	CreatedAt time.Time
}

// OAuthRequest is one stored fosite request: an authorization code, an
// access token, a refresh token, a PKCE or an OpenID Connect session.
type OAuthRequest struct {
	Kind      string `gorm:"primaryKey;size:16"`
	Signature string `gorm:"primaryKey;size:512"`
	RequestID string `gorm:"size:64;not null;index"`
	// AccessSignature links a refresh token to the access token issued with it.
	AccessSignature string `gorm:"size:512"`
	ClientID        string `gorm:"size:64;not null;index"`
	// Subject is the user; empty for client credentials, whose rows the
	// index by user leaves out (migration 0018).
	Subject     string `gorm:"size:255"`
	RequestedAt time.Time
	ExpiresAt   *time.Time `gorm:"index"`
	Active      bool       `gorm:"not null;default:true"`
	// Origin is how the grant began (oauth.Origin*), kept on every row
	// of the grant so that ending a credential can revoke what it obtained.
	Origin string `gorm:"size:32;not null;default:''"`
	// Data is the JSON encoding of the request: scopes, audiences, the
	// allow-listed form parameters and the session. It never holds a secret.
	Data []byte `gorm:"not null"`
}

// SigningKey is a key for ID tokens, JWT access tokens and logout tokens.
// Its state is a function of time (see oauth.KeyState), so that every
// replica that reads the same row agrees on it without talking to another:
// published from CreatedAt, the signing key of its algorithm from
// ActivatesAt until RetiredAt, published until ExpiresAt.
type SigningKey struct {
	ID        string `gorm:"primaryKey;size:64"` // the JWK kid
	Algorithm string `gorm:"size:16;not null"`   // RS256, ES256 or EdDSA
	PublicPEM string `gorm:"type:text;not null"`
	// PrivateSealed is the PKCS#8 private key sealed with the system secret.
	PrivateSealed []byte `gorm:"not null"`
	CreatedAt     time.Time
	// ActivatesAt is when the key becomes the signing key of its algorithm.
	ActivatesAt time.Time
	// RetiredAt is when the key stops signing (the next key's activation).
	RetiredAt *time.Time
	// ExpiresAt is when the public key may leave the JWKS.
	ExpiresAt *time.Time
}

// LoginSession is a browser's signed-in session (single sign-on).
type LoginSession struct {
	// IDHash is the keyed hash of the cookie value.
	IDHash    string `gorm:"primaryKey;size:64"`
	UserID    string `gorm:"size:64;not null;index"`
	AuthTime  time.Time
	ExpiresAt time.Time `gorm:"index"`
	CreatedAt time.Time
	// SID is the session's public id: the sid claim of the ID tokens and
	// logout tokens it leads to. It is not the cookie.
	SID string `gorm:"column:sid;size:64;not null;default:'';index"`
	// Surface is the cookie name of the site that began the session
	// ("authgate" for the public pages, "authgate_admin" for the console).
	Surface   string `gorm:"size:32;not null;default:''"`
	UserAgent string `gorm:"size:512;not null;default:''"`
	SourceIP  string `gorm:"size:64;not null;default:''"`
	// LastSeenAt is when the session was last used (to the minute).
	LastSeenAt *time.Time
	// AMR is how the session signed in: RFC 8176 values, space-separated
	// ("pwd", "pwd otp mfa"). Empty is a session from before MFA: "pwd".
	AMR string `gorm:"column:amr;size:64;not null;default:''"`
}

// SessionClient records that a browser session signed in to a client, so
// that its logout reaches the client.
type SessionClient struct {
	SID       string `gorm:"column:sid;primaryKey;size:64"`
	ClientID  string `gorm:"primaryKey;size:64"`
	UserID    string `gorm:"size:64;not null"`
	CreatedAt time.Time
}

// LogoutDelivery is a back-channel logout token waiting in the outbox for
// a client's backchannel_logout_uri. The token is signed when it is sent;
// the row keeps its claims. The row is deleted once the client accepted it.
type LogoutDelivery struct {
	ID       uint64 `gorm:"primaryKey;autoIncrement"`
	JTI      string `gorm:"column:jti;size:64;not null"`
	ClientID string `gorm:"size:64;not null"`
	URI      string `gorm:"column:uri;size:2000;not null"`
	Subject  string `gorm:"size:255;not null"`
	SID      string `gorm:"column:sid;size:64;not null"`
	// Alg is the algorithm the token is signed with: the client's ID token
	// algorithm when the delivery was queued.
	Alg         string    `gorm:"size:16;not null;default:RS256"`
	Attempts    int       `gorm:"not null;default:0"`
	NextAttempt time.Time `gorm:"not null;index"`
	// ClaimedUntil keeps other replicas off a delivery being sent.
	ClaimedUntil *time.Time
	LastError    string `gorm:"type:text"`
	// Failed is set once the attempts are exhausted; the row stays visible.
	Failed    bool `gorm:"not null;default:false;index"`
	CreatedAt time.Time
}

// Consent remembers that a user granted a client some scopes.
type Consent struct {
	UserID    string   `gorm:"primaryKey;size:64"`
	ClientID  string   `gorm:"primaryKey;size:64"`
	Scopes    []string `gorm:"serializer:json"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TrustedRange is an IP range from which the password alone authenticates
// on the legacy grant.
type TrustedRange struct {
	CIDR        string `gorm:"primaryKey;size:64;column:cidr"`
	Description string `gorm:"size:200"`
	CreatedAt   time.Time
}

// LoginEvent records one authentication attempt.
type LoginEvent struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement"`
	Time      time.Time `gorm:"not null;index"`
	UserID    string    `gorm:"size:64;index"`
	Username  string    `gorm:"size:200;index"`
	ClientID  string    `gorm:"size:64;index"`
	SourceIP  string    `gorm:"size:64"`
	Method    string    `gorm:"size:32;not null"` // "password_grant" or "login_page"
	Result    string    `gorm:"size:64;not null;index"`
	UserAgent string    `gorm:"size:512"`
	// Factor is the credential the attempt used or failed ("password",
	// "security_token", "totp", "recovery_code", ...); empty before MFA.
	Factor string `gorm:"size:32;not null;default:''"`
	// AppPassword is the name of the app password a password grant used.
	AppPassword string `gorm:"size:100;not null;default:''"`
}

// AuditEntry records one administrative change.
type AuditEntry struct {
	ID     uint64    `gorm:"primaryKey;autoIncrement"`
	Time   time.Time `gorm:"not null;index"`
	Actor  string    `gorm:"size:200;not null"`
	Action string    `gorm:"size:64;not null;index"`
	Target string    `gorm:"size:200"`
	Detail string    `gorm:"type:text"`
}

// MailMessage is a message waiting in the outbox. Its body is sealed with
// the system secret because it may carry a security token; the row is
// deleted once the message is delivered.
type MailMessage struct {
	ID          uint64    `gorm:"primaryKey;autoIncrement"`
	To          string    `gorm:"size:320;not null"`
	Subject     string    `gorm:"size:300;not null"`
	BodySealed  []byte    `gorm:"not null"`
	Attempts    int       `gorm:"not null;default:0"`
	NextAttempt time.Time `gorm:"not null;index"`
	// ClaimedUntil keeps other senders off a message being delivered.
	ClaimedUntil *time.Time
	LastError    string `gorm:"type:text"`
	// Failed is set once MaxAttempts is exhausted; the message stays visible.
	Failed    bool `gorm:"not null;default:false;index"`
	CreatedAt time.Time
}

// WebAuthnCredential is a user's passkey: a WebAuthn public key
// credential. It holds no secret: the private key never leaves the
// authenticator.
type WebAuthnCredential struct {
	// ID names the credential in URLs (16 random bytes, hex).
	ID     string `gorm:"primaryKey;size:64"`
	UserID string `gorm:"size:64;not null;index"`
	// Name is what the user called it ("YubiKey", "Laptop").
	Name string `gorm:"size:100;not null"`
	// CredentialID is the authenticator's credential id, unique.
	CredentialID []byte `gorm:"not null;uniqueIndex"`
	// PublicKey is the COSE-encoded credential public key.
	PublicKey       []byte   `gorm:"not null"`
	AttestationType string   `gorm:"size:32;not null;default:''"`
	Transports      []string `gorm:"serializer:json"`
	AAGUID          []byte   `gorm:"column:aaguid"`
	// SignCount is the highest signature counter seen; an assertion whose
	// counter does not exceed it (unless both are zero) is refused.
	SignCount      int64 `gorm:"not null;default:0"`
	BackupEligible bool  `gorm:"not null;default:false"`
	BackupState    bool  `gorm:"not null;default:false"`
	// UserVerified is the credential's uvInitialized: the authenticator
	// verified the user (PIN, biometrics) at registration.
	UserVerified bool `gorm:"not null;default:false"`
	// Passwordless is set when the user chose to sign in with this passkey
	// alone, without a password.
	Passwordless bool `gorm:"not null;default:false"`
	CreatedAt    time.Time
	LastUsedAt   *time.Time
}

// TableName is "webauthn_credentials".
func (WebAuthnCredential) TableName() string { return "webauthn_credentials" }

// WebAuthnCeremony is the server's half of a WebAuthn ceremony between
// its begin and finish: the challenge and options, bound to the browser
// that began it. It is used once.
type WebAuthnCeremony struct {
	// IDHash is the keyed hash of the ceremony cookie.
	IDHash string `gorm:"primaryKey;size:64"`
	// Purpose is what the ceremony is for: register, login or second.
	Purpose string `gorm:"size:16;not null"`
	// Binding is the keyed hash of the browser state the ceremony belongs
	// to (its session, its half-signed-in state); empty for a passwordless
	// sign-in, which has none.
	Binding string `gorm:"size:64;not null;default:''"`
	UserID  string `gorm:"size:64;not null;default:''"`
	// Data is the library's session data (challenge, allowed credentials,
	// user verification), JSON.
	Data      []byte    `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	CreatedAt time.Time
}

// TableName is "webauthn_ceremonies".
func (WebAuthnCeremony) TableName() string { return "webauthn_ceremonies" }

// TOTPFactor is a user's TOTP authenticator (RFC 6238). A row without
// ConfirmedAt is an enrolment waiting for its first code, not a factor.
type TOTPFactor struct {
	UserID string `gorm:"primaryKey;size:64"`
	// SecretSealed is the shared secret sealed with the system secret.
	SecretSealed []byte `gorm:"not null"`
	// LastStep is the last time step a code was accepted for.
	LastStep    int64 `gorm:"not null;default:0"`
	ConfirmedAt *time.Time
	LastUsedAt  *time.Time
	CreatedAt   time.Time
}

// TableName is "totp_factors".
func (TOTPFactor) TableName() string { return "totp_factors" }

// RecoveryCode is one one-time recovery code of a user, as a keyed hash.
type RecoveryCode struct {
	UserID    string `gorm:"primaryKey;size:64"`
	CodeHash  string `gorm:"primaryKey;size:64"`
	UsedAt    *time.Time
	CreatedAt time.Time
}

// SecondStep is a browser that passed the password and owes a second
// factor (or, when Enrol is set, an enrolment the policy requires). It is
// keyed by the keyed hash of its cookie.
type SecondStep struct {
	IDHash   string `gorm:"primaryKey;size:64"`
	UserID   string `gorm:"size:64;not null;index"`
	ClientID string `gorm:"size:64;not null;default:''"`
	ReturnTo string `gorm:"type:text;not null"`
	Enrol    bool   `gorm:"not null;default:false"`
	// State is scratch space of a factor (a WebAuthn challenge).
	State     string `gorm:"type:text;not null;default:''"`
	CreatedAt time.Time
	ExpiresAt time.Time `gorm:"index"`
}

// DeviceCode is one device authorization request (RFC 8628): the device
// polls with its device code, a person enters its user code at /device.
// Neither code is stored: both are kept as keyed hashes.
type DeviceCode struct {
	// DeviceCodeHash is the keyed hash of the device code.
	DeviceCodeHash string `gorm:"primaryKey;size:64"`
	// UserCodeHash is the keyed hash of the normalised user code.
	UserCodeHash string   `gorm:"size:64;not null;uniqueIndex"`
	ClientID     string   `gorm:"size:64;not null;index"`
	Scopes       []string `gorm:"serializer:json"`
	// Status is pending, approved, denied or redeemed.
	Status string `gorm:"size:16;not null"`
	// UserID is who approved or denied it.
	UserID string `gorm:"size:64;index"`
	// AuthTime is when that user signed in; DecidedAt when they decided.
	AuthTime  *time.Time
	DecidedAt *time.Time
	// Where the request started: the device's address and user agent.
	SourceIP  string `gorm:"size:64"`
	UserAgent string `gorm:"size:512"`
	// ApproverIP is the address the approval came from (its lockout is
	// checked again when the tokens are issued).
	ApproverIP string `gorm:"size:64"`
	// Interval is the least number of seconds between two polls; a poll
	// that comes sooner adds 5 (RFC 8628 section 3.5, slow_down).
	Interval int `gorm:"column:poll_interval;not null"`
	// Polls counts the polls; each one moves it on by a conditional
	// update, so that two polls at once cannot both pass as slow enough.
	Polls        int `gorm:"not null"`
	LastPolledAt *time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time `gorm:"not null;index"`
}

// AppPassword is a credential a user creates for one integration: used in
// the password grant as the whole password, in place of password +
// security token. Only its keyed hash is kept.
type AppPassword struct {
	ID     string `gorm:"primaryKey;size:64"`
	UserID string `gorm:"size:64;not null;index"`
	Name   string `gorm:"size:100;not null"`
	// ClientID, when set, is the one client the app password works for.
	ClientID string   `gorm:"size:64;not null;default:'';index"`
	Scopes   []string `gorm:"serializer:json"`
	// Hash is the keyed hash (HMAC-SHA256 under the system secret) of the value.
	Hash      string `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt time.Time
	// ExpiresAt, when set, is when it stops working.
	ExpiresAt      *time.Time
	LastUsedAt     *time.Time
	LastUsedClient string `gorm:"size:64;not null;default:''"`
	LastUsedIP     string `gorm:"size:64;not null;default:''"`
	RevokedAt      *time.Time
}

// EmailToken is a single-use link sent by email: a password reset, the
// verification of the user's address, or the confirmation of a new
// address. Only the keyed hash of the link's token is kept.
type EmailToken struct {
	Hash    string `gorm:"primaryKey;size:64"`
	UserID  string `gorm:"size:64;not null"`
	Purpose string `gorm:"size:16;not null"`
	// Email is the address the link was sent to: the one it verifies, or
	// the new address of an email change.
	Email     string `gorm:"size:320;not null;default:''"`
	SourceIP  string `gorm:"size:64;not null;default:''"`
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set when the link is followed; it works once.
	UsedAt *time.Time
}

// All lists every model. The schema itself is storage's numbered
// migrations, not these structs.
func All() []any {
	return []any{
		&Client{}, &User{}, &SecurityTokenHistory{}, &OAuthRequest{}, &SigningKey{},
		&LoginSession{}, &Consent{}, &TrustedRange{}, &LoginEvent{}, &AuditEntry{}, &MailMessage{},
		&SessionClient{}, &LogoutDelivery{},
		&WebAuthnCredential{}, &WebAuthnCeremony{},
		&TOTPFactor{}, &RecoveryCode{}, &SecondStep{},
		&ClientBrownout{}, &LegacyNotice{},
		&DeviceCode{},
		&AppPassword{},
		&EmailToken{},
	}
}

// TableName keeps the table name readable ("oauth", not "o_auth").
func (OAuthRequest) TableName() string { return "oauth_requests" }
