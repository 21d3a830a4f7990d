package postgres_test

import (
	"testing"

	"github.com/a1-go/a1/store/postgres"
	"github.com/a1-go/a1/store/storetest"
)

func TestCanceledContextFailsClosed(t *testing.T) {
	url := dbURL(t)
	s := open(t, postgres.Config{URL: url})
	defer s.Close()
	prefix := storetest.RandomPrefix()
	t.Cleanup(func() { cleanup(url)(prefix) })
	storetest.CheckCanceledFailsClosed(t, s, prefix+"c")
}

func TestBadTenantIsInvalid(t *testing.T) {
	s := open(t, postgres.Config{})
	defer s.Close()
	storetest.CheckBadTenantInvalid(t, s)
}
