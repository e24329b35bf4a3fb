// compose-validate loads compose files exactly as Docker Compose v2 does, without Docker.
//
// It uses github.com/compose-spec/compose-go/v2, the loader inside `docker compose`:
// YAML parsing, the Compose Specification JSON schema, variable interpolation (OS env
// and `.env` in the project directory), merging of override files (incl. !reset and
// !override), normalization and the consistency checks (depends_on targets exist, ...).
// So `compose-validate docker-compose.yml` fails where `docker compose config` fails.
//
// On top of the specification it fails on three mistakes Docker only reports at `up` time
// (or never):
//   - a warning from the loader, e.g. a variable that is not set and has no default
//     (Compose would substitute an empty string); -allow-warnings turns this off;
//   - `depends_on: {X: {condition: service_healthy}}` where X declares no healthcheck
//     (Compose then fails at start: "container X has no healthcheck configured");
//   - a bind mount whose source does not exist (Docker silently creates an empty
//     directory, so e.g. a mistyped prometheus.yml path mounts a directory). Sources under
//     the runtime-state directory (-runtime-dir, default .milvus-lab) may be missing:
//     the labs create them.
//
// Usage:
//
//	compose-validate [-json] [-allow-warnings] [-runtime-dir NAME] FILE [OVERRIDE...]
//
// Exit codes: 0 valid, 1 invalid (one message per problem on stderr), 2 usage error.
// With -json the resolved project (what `docker compose config --format json` prints)
// goes to stdout.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

const loaderModule = "github.com/compose-spec/compose-go/v2"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compose-validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the resolved project as JSON on stdout")
	allowWarnings := fs.Bool("allow-warnings", false, "do not fail on loader warnings (e.g. unset variables)")
	runtimeDir := fs.String("runtime-dir", ".milvus-lab", "bind sources under this project-relative dir may be missing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: compose-validate [-json] [-allow-warnings] [-runtime-dir NAME] FILE [OVERRIDE...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			fmt.Fprintf(stderr, "compose-validate: %s: %v\n", f, err)
			return 2
		}
		if _, err := os.Stat(abs); err != nil {
			fmt.Fprintf(stderr, "compose-validate: %s: no such file\n", f)
			return 2
		}
		files[i] = abs
	}
	label := strings.Join(relativeNames(files), " + ")

	// Collect the loader's warnings instead of letting logrus print them unformatted.
	var warnings bytes.Buffer
	logrus.SetOutput(&warnings)
	logrus.SetFormatter(messageOnly{})
	logrus.SetLevel(logrus.WarnLevel)

	project, err := load(files)
	warnLines := nonEmptyLines(warnings.String())
	if err != nil {
		fmt.Fprintf(stderr, "compose-validate: INVALID %s:\n  %s\n", label, indent(explain(err.Error())))
		printWarnings(stderr, warnLines)
		return 1
	}

	var problems []string
	if !*allowWarnings {
		for _, w := range warnLines {
			problems = append(problems, "loader warning: "+w)
		}
	}
	problems = append(problems, checkHealthyDependencies(project)...)
	problems = append(problems, checkBindSources(project, *runtimeDir)...)
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "compose-validate: INVALID %s:\n", label)
		for _, p := range problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return 1
	}
	if *allowWarnings {
		printWarnings(stderr, warnLines)
	}

	if *asJSON {
		raw, err := project.MarshalJSON()
		if err != nil {
			fmt.Fprintf(stderr, "compose-validate: cannot print the project: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, string(raw))
	}
	names := project.ServiceNames()
	sort.Strings(names)
	fmt.Fprintf(stderr, "compose-validate: ok: %s: project %q, %d services (%s), %d volumes [%s]\n",
		label, project.Name, len(names), strings.Join(names, ", "), len(project.Volumes), loaderVersion())
	return 0
}

// load runs the same loading pipeline as `docker compose config`.
func load(files []string) (*types.Project, error) {
	options, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(filepath.Dir(files[0])),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithProfiles([]string{"*"}), // validate services behind every profile too
	)
	if err != nil {
		return nil, err
	}
	return options.LoadProject(context.Background())
}

// checkHealthyDependencies: `condition: service_healthy` needs a healthcheck on the dependency.
func checkHealthyDependencies(p *types.Project) []string {
	var out []string
	for _, name := range sortedServiceNames(p) {
		svc := p.Services[name]
		for dep, d := range svc.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				continue
			}
			target, ok := p.Services[dep]
			if !ok {
				continue // the consistency check reports unknown services
			}
			hc := target.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
				out = append(out, fmt.Sprintf(
					"service %q: depends_on %q with condition service_healthy, but %q declares no healthcheck "+
						"(Compose fails at start: \"container %s has no healthcheck configured\")",
					name, dep, dep, dep))
			}
		}
	}
	return out
}

// checkBindSources: a bind mount's source must exist, unless it is runtime state (a path
// with a `runtimeDir` component, e.g. $MILVUS_LAB_HOME/.milvus-lab/prometheus).
func checkBindSources(p *types.Project, runtimeDir string) []string {
	var out []string
	for _, name := range sortedServiceNames(p) {
		for _, v := range p.Services[name].Volumes {
			if v.Type != types.VolumeTypeBind || v.Source == "" || underDir(v.Source, runtimeDir) {
				continue
			}
			if _, err := os.Stat(v.Source); errors.Is(err, os.ErrNotExist) {
				out = append(out, fmt.Sprintf(
					"service %q: bind mount source %s does not exist (Docker would create an empty directory and mount it at %s)",
					name, v.Source, v.Target))
			}
		}
	}
	return out
}

func underDir(path, dir string) bool {
	if dir == "" {
		return false
	}
	for _, part := range strings.Split(filepath.ToSlash(filepath.Clean(path)), "/") {
		if part == dir {
			return true
		}
	}
	return false
}

func sortedServiceNames(p *types.Project) []string {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func loaderVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == loaderModule {
				return loaderModule + " " + dep.Version
			}
		}
	}
	return loaderModule
}

func relativeNames(files []string) []string {
	wd, _ := os.Getwd()
	out := make([]string, len(files))
	for i, f := range files {
		if rel, err := filepath.Rel(wd, f); err == nil && !strings.HasPrefix(rel, "..") {
			out[i] = rel
		} else {
			out[i] = f
		}
	}
	return out
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func printWarnings(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(w, "  warning: %s\n", l)
	}
}

// messageOnly formats a logrus entry as its bare message, one per line.
type messageOnly struct{}

func (messageOnly) Format(e *logrus.Entry) ([]byte, error) { return []byte(e.Message + "\n"), nil }

// falseSchema matches the schema's terse report of a key the specification does not allow.
var falseSchema = regexp.MustCompile(`(?m)([A-Za-z0-9_.\-]+)\.([^.\s]+) false schema`)

// explain rewrites the loader's terse schema messages into ones a learner can act on.
func explain(msg string) string {
	return falseSchema.ReplaceAllString(msg,
		"$1: unknown key \"$2\" (not allowed by the Compose Specification; a typo?)")
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
