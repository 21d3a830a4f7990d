//go:build !novault

package signer

import (
	"context"

	"github.com/a1-go/a1/signer/vault"
)

func openVault(ctx context.Context, rest string, o Options) (Signer, error) {
	return openVaultScheme(ctx, vault.Scheme, rest, o)
}

func openVaultHTTP(ctx context.Context, rest string, o Options) (Signer, error) {
	return openVaultScheme(ctx, vault.SchemeHTTP, rest, o)
}

func openVaultScheme(ctx context.Context, scheme, rest string, o Options) (Signer, error) {
	s, err := vault.Open(ctx, scheme, rest, vault.Config{Timeout: o.Timeout, MaxAttempts: o.MaxAttempts})
	if err != nil {
		return nil, err
	}
	return s, nil
}
