//go:build !noawskms

package signer

import (
	"context"

	"github.com/a1-go/a1/signer/awskms"
)

func openAWSKMS(ctx context.Context, rest string, o Options) (Signer, error) {
	s, err := awskms.Open(ctx, rest, awskms.Config{Timeout: o.Timeout, MaxAttempts: o.MaxAttempts})
	if err != nil {
		return nil, err
	}
	return s, nil
}
