// Package config loads authgate's settings once, from defaults, an optional
// YAML file and AUTHGATE_* environment variables, and validates them.
package config

//go:generate go test -run TestConfigurationReference -update
