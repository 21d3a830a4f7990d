//go:build !noazurekv

package signer

import (
	"context"

	"github.com/a1-go/a1/signer/azurekv"
)

func openAzureKV(ctx context.Context, rest string, o Options) (Signer, error) {
	s, err := azurekv.Open(ctx, rest, azurekv.Config{Timeout: o.Timeout, MaxAttempts: o.MaxAttempts})
	if err != nil {
		return nil, err
	}
	return s, nil
}
