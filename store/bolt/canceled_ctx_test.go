package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/a1-go/a1/store/bolt"
	"github.com/a1-go/a1/store/storetest"
)

func TestCanceledContextFailsClosed(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "a1.db"), bolt.Options{NoSync: true, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckCanceledFailsClosed(t, s, "tenant-c")
	storetest.CheckCanceledFailsClosed(t, s, "")
}

func TestBadTenantIsInvalid(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "a1.db"), bolt.Options{NoSync: true, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckBadTenantInvalid(t, s)
}
