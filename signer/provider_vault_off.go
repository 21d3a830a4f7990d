//go:build novault

package signer

import (
	"context"
	"fmt"
)

func openVault(context.Context, string, Options) (Signer, error) {
	return nil, fmt.Errorf("%w: vault (built with tag novault)", ErrCompiledOut)
}

func openVaultHTTP(ctx context.Context, rest string, o Options) (Signer, error) {
	return openVault(ctx, rest, o)
}
