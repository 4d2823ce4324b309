// Package password hashes and verifies secrets with argon2id, bounding how
// many hashes run at once so that memory stays bounded under load.
package password
