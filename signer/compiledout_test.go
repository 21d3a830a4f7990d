//go:build novault && noawskms && nogcpkms && noazurekv

package signer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/a1-go/a1/signer"
)

func TestCompiledOut(t *testing.T) {
	for _, uri := range []string{"vault:transit/k", "awskms:alias/k", "gcpkms:projects/p", "azurekv:https://v.vault.azure.net/secrets/s"} {
		if _, err := signer.Open(context.Background(), uri); !errors.Is(err, signer.ErrCompiledOut) {
			t.Errorf("Open(%q) = %v, want ErrCompiledOut", uri, err)
		}
	}
}
