package gateway_test

import (
	"fmt"
	"io"

	"github.com/a1-go/a1/gateway"
)

// ExampleLoadConfig shows the configuration rules: environment variables,
// overridden by flags, validated at once.
func ExampleLoadConfig() {
	env := map[string]string{"A1_PG_URL": "postgres://a1@db/a1", "A1_RATE_LIMIT_RPS": "100"}
	cfg, err := gateway.LoadConfig([]string{"-listen", "127.0.0.1:9090"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Listen, cfg.Store, cfg.RateRPS, cfg.RateBurst, cfg.NonceMode)

	env["A1_REDIS_URL"] = "redis://cache:6379/0" // both URLs: A1_STORE is now required
	_, err = gateway.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	fmt.Println(err)
	// Output:
	// 127.0.0.1:9090 postgres 100 100 terminal
	// A1_STORE: both A1_PG_URL and A1_REDIS_URL are set and A1_STORE is not
}
