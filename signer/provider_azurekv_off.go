//go:build noazurekv

package signer

import (
	"context"
	"fmt"
)

func openAzureKV(context.Context, string, Options) (Signer, error) {
	return nil, fmt.Errorf("%w: azurekv (built with tag noazurekv)", ErrCompiledOut)
}
