package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

func init() {
	register(&command{name: "completion", run: cmdCompletion, usage: `Usage: a1 completion bash|zsh

Prints a shell completion script.

Example:
  source <(a1 completion bash)
  a1 completion zsh > "${fpath[1]}/_a1"
`})
}

func contextWithTimeout(e *env, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, d)
}

// completionTree maps the first word to its second words ("" for leaves).
func completionTree() (top []string, subs map[string][]string) {
	subs = map[string][]string{}
	seen := map[string]bool{"gateway": true, "help": true}
	top = []string{"gateway", "help"}
	for _, c := range commands {
		n, v, ok := strings.Cut(c.name, " ")
		if !seen[n] {
			seen[n] = true
			top = append(top, n)
		}
		if ok {
			subs[n] = append(subs[n], v)
		}
	}
	sort.Strings(top)
	return top, subs
}

func cmdCompletion(e *env, args []string) error {
	fs := flagSet("completion")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("run `a1 completion bash` or `a1 completion zsh`", "completion: exactly one shell is required")
	}
	top, subs := completionTree()
	nouns := make([]string, 0, len(subs))
	for n := range subs {
		nouns = append(nouns, n)
	}
	sort.Strings(nouns)
	switch pos[0] {
	case "bash":
		var cases strings.Builder
		for _, n := range nouns {
			fmt.Fprintf(&cases, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", n, strings.Join(subs[n], " "))
		}
		fmt.Fprintf(e.stdout, `# bash completion for a1
_a1() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W %q -- "$cur"))
    return
  fi
  if [ "$COMP_CWORD" -eq 2 ]; then
    case ${COMP_WORDS[1]} in
%s    *) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _a1 a1
`, strings.Join(top, " "), cases.String())
	case "zsh":
		var cases strings.Builder
		for _, n := range nouns {
			fmt.Fprintf(&cases, "      %s) _values 'subcommand' %s ;;\n", n, strings.Join(subs[n], " "))
		}
		fmt.Fprintf(e.stdout, `#compdef a1
# zsh completion for a1
_a1() {
  if (( CURRENT == 2 )); then
    _values 'command' %s
  elif (( CURRENT == 3 )); then
    case ${words[2]} in
%s      *) _files ;;
    esac
  else
    _files
  fi
}
_a1 "$@"
`, strings.Join(top, " "), cases.String())
	default:
		return usagef("supported shells: bash, zsh", "completion: unsupported shell %q", pos[0])
	}
	return nil
}
