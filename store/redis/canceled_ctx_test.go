package redis_test

import (
	"testing"

	"github.com/a1-go/a1/store/storetest"
)

func TestCanceledContextFailsClosed(t *testing.T) {
	s, tenant := openTenant(t)
	storetest.CheckCanceledFailsClosed(t, s, tenant+"c")
}

func TestBadTenantIsInvalid(t *testing.T) {
	s, _ := openTenant(t)
	storetest.CheckBadTenantInvalid(t, s)
}
