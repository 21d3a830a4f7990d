package a1_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs fails for any package in the module without a package
// doc comment.
func TestPackageDocs(t *testing.T) {
	dirs := map[string]bool{}
	_ = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "tmp") && p != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	for dir := range dirs {
		if _, err := filepath.Glob(filepath.Join(dir, "go.mod")); err == nil && dir != "." {
			if m, _ := filepath.Glob(filepath.Join(dir, "go.mod")); len(m) > 0 {
				continue // nested module
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		has := false
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				has = true
			}
		}
		if !has {
			t.Errorf("package in %s has no doc comment", dir)
		}
	}
}
