package sinks

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/a1-go/a1/audit"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"A1_AUDIT_SINKS": "stdout,datadog", "A1_AUDIT_QUEUE_SIZE": "42", "A1_AUDIT_FLUSH_INTERVAL": "250ms",
		"A1_AUDIT_FILE_MAX_BYTES": "1048576", "A1_AUDIT_FSYNC_INTERVAL": "2s", "A1_DD_API_KEY": "secret-key",
		"A1_DD_SITE": "datadoghq.eu", "A1_DD_TAGS": "env:prod, team:sec,", "A1_SPLUNK_HEC_URL": "https://s:8088",
		"A1_SPLUNK_HEC_TOKEN": "secret-token", "A1_SPLUNK_INSECURE_SKIP_VERIFY": "false", "A1_AUDIT_CHECKPOINT_EVERY": "1000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec != "stdout,datadog" || c.QueueSize != 42 || c.FlushInterval != 250*time.Millisecond ||
		c.FileMaxBytes != 1<<20 || c.FsyncInterval != 2*time.Second || c.Datadog.Site != "datadoghq.eu" ||
		strings.Join(c.Datadog.Tags, "|") != "env:prod|team:sec" || c.Splunk.InsecureSkipVerify || c.CheckpointEvery != 1000 {
		t.Fatalf("parsed %+v", c)
	}
	if s := c.String(); strings.Contains(s, "secret") {
		t.Fatalf("String leaks a credential: %s", s)
	}
	d, err := FromEnv(env(nil))
	if err != nil || d.Spec != DefaultSpec || d.Splunk.InsecureSkipVerify {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	for _, bad := range []map[string]string{
		{"A1_AUDIT_QUEUE_SIZE": "-1"}, {"A1_AUDIT_QUEUE_SIZE": "x"}, {"A1_AUDIT_FLUSH_INTERVAL": "5"},
		{"A1_SPLUNK_INSECURE_SKIP_VERIFY": "yes please"},
		{"A1_AUDIT_CHECKPOINT_INTERVAL": "-1s"}, {"A1_AUDIT_FLUSH_INTERVAL": "-1ms"}, {"A1_AUDIT_FSYNC_INTERVAL": "-5s"},
	} {
		// Every refusal names its variable (the gateway prints it as is).
		_, err := FromEnv(env(bad))
		for name := range bad {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%v: %v, want an error naming %s", bad, err, name)
			}
		}
	}
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{}
	cfg.Datadog.APIKey, cfg.Datadog.URL = "k", "http://127.0.0.1:1/api/v2/logs"
	cfg.Splunk.Token, cfg.Splunk.URL = "t", "http://127.0.0.1:1"
	var out bytes.Buffer
	sinks, err := Parse(" stdout , file:"+filepath.Join(dir, "a.ndjson")+",datadog,splunk", cfg, Deps{Stdout: &out})
	if err != nil || len(sinks) != 4 {
		t.Fatalf("%d sinks, %v", len(sinks), err)
	}
	em, _ := audit.NewEmitter(audit.Config{Sinks: sinks[:2]})
	em.Emit(audit.Event{Kind: audit.KindAdmin, Action: "root.add", Decision: audit.DecisionAllow})
	if err := em.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = audit.Multi(sinks[2:]...).Close(ctx)
	if rep, _ := audit.Verify(&out, audit.VerifyOptions{}); !rep.OK || rep.Events != 1 {
		t.Fatalf("stdout sink output: %s", rep)
	}
	if s, err := Parse("none", cfg, Deps{}); err != nil || s != nil {
		t.Fatal("none")
	}

	for spec, want := range map[string]string{
		"stdout,stdout":                    "listed twice",
		"kafka":                            "unknown sink",
		"postgres":                         "PostgreSQL connection",
		"datadog":                          "API key",
		"splunk":                           "token",
		"stdout:x":                         "takes no argument",
		"file:/nonexistent-dir/x/y.ndjson": "open",
	} {
		if _, err := Parse(spec, Config{}, Deps{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", spec, err, want)
		}
	}
}
