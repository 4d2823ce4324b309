// Package keyring derives keys from the system secret and uses them for
// keyed hashes (HMAC-SHA256) and authenticated encryption (AES-256-GCM).
package keyring
