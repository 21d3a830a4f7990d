// Package sinks builds the audit sinks named by an A1_AUDIT_SINKS
// specification, e.g. "stdout,file:/var/log/a1/audit.ndjson,postgres,datadog,splunk",
// with per-sink settings from a Config that FromEnv fills from A1_*
// environment variables (listed in docs/audit.md).
package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/a1-go/a1/audit"
	"github.com/a1-go/a1/audit/datadog"
	"github.com/a1-go/a1/audit/ndjson"
	"github.com/a1-go/a1/audit/pgsink"
	"github.com/a1-go/a1/audit/splunk"
)

// DefaultSpec is used when A1_AUDIT_SINKS is unset.
const DefaultSpec = "stdout"

// DefaultFilePath is the file sink's path when "file" names none.
const DefaultFilePath = "/var/log/a1/audit.ndjson"

// maxSpecSinks bounds the entries of a specification.
const maxSpecSinks = 16

// Config holds every sink setting. Never log it with %#v: it carries the
// Datadog API key and the Splunk token (String redacts them).
type Config struct {
	Spec          string        // A1_AUDIT_SINKS
	QueueSize     int           // A1_AUDIT_QUEUE_SIZE
	BatchSize     int           // A1_AUDIT_BATCH_SIZE
	FlushInterval time.Duration // A1_AUDIT_FLUSH_INTERVAL
	MaxAttempts   int           // A1_AUDIT_MAX_ATTEMPTS

	FilePath      string        // A1_AUDIT_FILE
	FileMaxBytes  int64         // A1_AUDIT_FILE_MAX_BYTES
	FileKeep      int           // A1_AUDIT_FILE_KEEP
	FsyncInterval time.Duration // A1_AUDIT_FSYNC_INTERVAL

	// Emitter settings, for audit.Config.
	CheckpointEvery    int           // A1_AUDIT_CHECKPOINT_EVERY
	CheckpointInterval time.Duration // A1_AUDIT_CHECKPOINT_INTERVAL

	Datadog datadog.Config // A1_DD_*
	Splunk  splunk.Config  // A1_SPLUNK_*
}

// String describes the configuration without credentials.
func (c Config) String() string {
	return fmt.Sprintf("audit sinks %q (queue %d, batch %d, flush %s; file %s; datadog key set: %t; splunk token set: %t)",
		c.Spec, c.QueueSize, c.BatchSize, c.FlushInterval, c.FilePath, c.Datadog.APIKey != "", c.Splunk.Token != "")
}

// FromEnv reads the configuration through getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Spec:     getenv("A1_AUDIT_SINKS"),
		FilePath: getenv("A1_AUDIT_FILE"),
		Datadog: datadog.Config{
			APIKey:   getenv("A1_DD_API_KEY"),
			Site:     getenv("A1_DD_SITE"),
			URL:      getenv("A1_DD_URL"),
			Service:  getenv("A1_DD_SERVICE"),
			Source:   getenv("A1_DD_SOURCE"),
			Hostname: getenv("A1_DD_HOSTNAME"),
		},
		Splunk: splunk.Config{
			URL:        getenv("A1_SPLUNK_HEC_URL"),
			Token:      getenv("A1_SPLUNK_HEC_TOKEN"),
			Index:      getenv("A1_SPLUNK_INDEX"),
			Source:     getenv("A1_SPLUNK_SOURCE"),
			Sourcetype: getenv("A1_SPLUNK_SOURCETYPE"),
			Host:       getenv("A1_SPLUNK_HOST"),
			Channel:    getenv("A1_SPLUNK_CHANNEL"),
			CAFile:     getenv("A1_SPLUNK_CA_FILE"),
		},
	}
	if c.Spec == "" {
		c.Spec = DefaultSpec
	}
	if tags := getenv("A1_DD_TAGS"); tags != "" {
		for _, t := range strings.Split(tags, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Datadog.Tags = append(c.Datadog.Tags, t)
			}
		}
	}
	var errs []error
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s: want a non-negative integer, got %q", name, v))
				return
			}
			*dst = n
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s: want a non-negative duration such as 1s, got %q", name, v))
				return
			}
			*dst = d
		}
	}
	boolean := func(name string, dst *bool) {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: want true or false, got %q", name, v))
				return
			}
			*dst = b
		}
	}
	num("A1_AUDIT_QUEUE_SIZE", &c.QueueSize)
	num("A1_AUDIT_BATCH_SIZE", &c.BatchSize)
	num("A1_AUDIT_MAX_ATTEMPTS", &c.MaxAttempts)
	num("A1_AUDIT_FILE_KEEP", &c.FileKeep)
	num("A1_AUDIT_CHECKPOINT_EVERY", &c.CheckpointEvery)
	var maxBytes int
	num("A1_AUDIT_FILE_MAX_BYTES", &maxBytes)
	c.FileMaxBytes = int64(maxBytes)
	dur("A1_AUDIT_FLUSH_INTERVAL", &c.FlushInterval)
	dur("A1_AUDIT_FSYNC_INTERVAL", &c.FsyncInterval)
	dur("A1_AUDIT_CHECKPOINT_INTERVAL", &c.CheckpointInterval)
	var gzipOff bool
	boolean("A1_DD_NO_GZIP", &gzipOff)
	c.Datadog.NoGzip = gzipOff
	boolean("A1_SPLUNK_INSECURE_SKIP_VERIFY", &c.Splunk.InsecureSkipVerify)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("audit config: %w", err)
	}
	return c, nil
}

// Deps are the process resources sinks may use.
type Deps struct {
	Stdout   io.Writer      // "stdout" sink target (nil: os.Stdout)
	DB       pgsink.Execer  // required by "postgres" (a *pgxpool.Pool)
	Metrics  *audit.Metrics // shared counters (nil: unexported)
	ErrorLog func(error)    // delivery errors (optional)
}

// Parse builds the sinks named by spec (comma-separated; "file" may carry
// a path as "file:/path"; "none" alone disables auditing). On error no sink
// is left running.
func Parse(spec string, cfg Config, deps Deps) ([]audit.Sink, error) {
	spec = strings.TrimSpace(spec)
	if spec == "none" {
		return nil, nil
	}
	items := strings.Split(spec, ",")
	if len(items) > maxSpecSinks {
		return nil, fmt.Errorf("audit sinks: more than %d entries", maxSpecSinks)
	}
	opts := func(name string) audit.AsyncOptions {
		return audit.AsyncOptions{Name: name, QueueSize: cfg.QueueSize, MaxBatch: cfg.BatchSize,
			FlushInterval: cfg.FlushInterval, MaxAttempts: cfg.MaxAttempts,
			Metrics: deps.Metrics, ErrorLog: deps.ErrorLog}
	}
	var out []audit.Sink
	fail := func(err error) ([]audit.Sink, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, s := range out {
			_ = s.Close(ctx)
		}
		return nil, fmt.Errorf("audit sinks: %w", err)
	}
	seen := map[string]bool{}
	for _, item := range items {
		item = strings.TrimSpace(item)
		name, arg, hasArg := strings.Cut(item, ":")
		if seen[name] {
			return fail(fmt.Errorf("%q listed twice", name))
		}
		seen[name] = true
		if hasArg && name != "file" {
			return fail(fmt.Errorf("%q takes no argument", name))
		}
		var s audit.Sink
		var err error
		switch name {
		case "stdout":
			w := deps.Stdout
			if w == nil {
				w = os.Stdout
			}
			s = ndjson.NewWriter(w, opts("stdout"))
		case "file":
			path := cfg.FilePath
			if hasArg {
				path = arg
			}
			if path == "" {
				path = DefaultFilePath
			}
			s, err = ndjson.NewFile(ndjson.FileOptions{Path: path, MaxBytes: cfg.FileMaxBytes,
				Keep: cfg.FileKeep, FsyncInterval: cfg.FsyncInterval}, opts("file"))
		case "postgres":
			if deps.DB == nil {
				err = errors.New(`"postgres" needs a PostgreSQL connection (A1_PG_URL)`)
			} else {
				s, err = pgsink.New(deps.DB, opts("postgres"))
			}
		case "datadog":
			s, err = datadog.New(cfg.Datadog, opts("datadog"))
		case "splunk":
			s, err = splunk.New(cfg.Splunk, opts("splunk"))
		default:
			err = fmt.Errorf("unknown sink %q (want stdout, file[:path], postgres, datadog, splunk or none)", name)
		}
		if err != nil {
			return fail(err)
		}
		out = append(out, s)
	}
	return out, nil
}
