// Package storetest is the contract suite every a1 state backend must pass
// (store/memory, store/bolt, store/redis, store/postgres), plus the test
// helpers the backends share: a fake clock, a TCP proxy that can cut or
// stall a connection to a real server mid-run, and the authorization
// benchmark and one-round-trip check.
//
// A backend's test calls Run with a Config that opens a fresh backend:
//
//	storetest.Run(t, storetest.Config{
//		Open: func(t *testing.T, c *storetest.FakeClock) storetest.Backend {
//			return memory.New(memory.Options{Now: c.Now})
//		},
//	})
package storetest
