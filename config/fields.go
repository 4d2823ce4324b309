package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/clientip"
)

// setting is one leaf of Config as a file and the environment name it:
// its dotted YAML key (mail.smtp_host), its variable and where it sits in
// the struct. The struct tags are the one list of settings: the file
// loader, the environment loader and docs/CONFIGURATION.md all read them.
type setting struct {
	Key   string
	Env   string
	Index []int
	// Owner and Field name the Go struct and field, for the doc comments.
	Owner, Field string
}

// settings lists every leaf of Config that a file or a variable can set,
// in the order of the struct.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			env := f.Tag.Get("env")
			if env == "" && f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, prefix+key+".", idx)
				continue
			}
			out = append(out, setting{Key: prefix + key, Env: env, Index: idx, Owner: t.Name(), Field: f.Name})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// sections maps each nested struct's Go type name to its YAML key, for
// naming an unknown key in full (mail.smtp_hots).
func sections() map[string]string {
	out := map[string]string{"Config": ""}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Tag.Get("env") == "" && f.Type.Kind() == reflect.Struct && key != "" && key != "-" {
			out[f.Type.Name()] = key + "."
		}
	}
	return out
}

// applyEnv sets each setting whose variable getenv returns non-empty, and
// reports every variable it could not parse.
func applyEnv(cfg *Config, getenv func(string) string) error {
	var errs []error
	root := reflect.ValueOf(cfg).Elem()
	for _, s := range settings() {
		v := getenv(s.Env)
		if v == "" {
			continue
		}
		if err := setString(root.FieldByIndex(s.Index), v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Env, err))
		}
	}
	return errors.Join(errs...)
}

// setString parses v into dst by dst's type.
func setString(dst reflect.Value, v string) error {
	switch dst.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (use e.g. 15m or 1h): %w", v, err)
		}
		dst.SetInt(int64(d))
		return nil
	case Days:
		d, err := ParseDays(v)
		if err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(d))
		return nil
	case Prefixes:
		p, err := clientip.ParsePrefixes(v)
		if err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(Prefixes(p)))
		return nil
	}
	switch dst.Kind() {
	case reflect.String:
		dst.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(v, 10, dst.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		dst.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(v, 10, dst.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number from 0 to %d", v, uint64(1)<<dst.Type().Bits()-1)
		}
		dst.SetUint(n)
	default:
		return fmt.Errorf("unsupported setting type %s", dst.Type())
	}
	return nil
}

// unknownField matches yaml.v3's message for a key KnownFields refuses.
var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type config\.(\w+)$`)

// loadFile decodes the YAML file at path over cfg, refusing unknown keys.
func loadFile(cfg *Config, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err = dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		return nil // an empty file sets nothing
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		return nil
	}
	secs := sections()
	var errs []error
	for _, msg := range te.Errors {
		m := unknownField.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("config file %s: %s", path, msg))
			continue
		}
		key := secs[m[3]] + m[2]
		e := fmt.Errorf("config file %s: line %s: unknown key %q", path, m[1], key)
		if near := nearestKey(key); near != "" {
			e = fmt.Errorf("%w (did you mean %q?)", e, near)
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// nearestKey returns the known key within two edits of key, or "".
func nearestKey(key string) string {
	best, bestD := "", 3
	for _, s := range settings() {
		if d := editDistance(key, s.Key); d < bestD {
			best, bestD = s.Key, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
