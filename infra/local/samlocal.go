package local

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// EnvVars is an --env-vars file of sam local (infra/env.json): values for
// every function under "Parameters", and a function's own under its
// logical id, which win.
type EnvVars map[string]map[string]string

// ReadEnvVars reads an --env-vars file.
func ReadEnvVars(path string) (EnvVars, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e EnvVars
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// SamLocalEnv is each function's environment under sam local with the
// --env-vars file e, by logical id: every variable the template declares
// for it (Globals merged), with the template's value when that is a
// constant or made of parameters (resolved with r), and empty when it
// names a resource of the stack (sam local resolves such a value to the
// logical id or an ARN of its own making, never to a table or queue of
// the developer's: only e can name those); then e's "Parameters", then
// the function's own entry of e, each for declared variables only, as
// sam local applies them (aws-sam-cli: local_lambda.py, env_vars.py).
func SamLocalEnv(t *Template, r *Resolver, e EnvVars) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	glob := asMap(asMap(asMap(t.Globals["Function"])["Environment"])["Variables"])
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		own := asMap(asMap(t.Resources[id].Properties["Environment"])["Variables"])
		env := map[string]string{}
		for _, vars := range []map[string]any{glob, own} {
			for k, v := range vars {
				if NamesResource(t, v) {
					env[k] = ""
					continue
				}
				rv, err := r.Resolve(v)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", id, k, err)
				}
				env[k] = asString(rv)
			}
		}
		for _, over := range []map[string]string{e["Parameters"], e[id]} {
			for k, v := range over {
				if _, declared := env[k]; declared {
					env[k] = v
				}
			}
		}
		out[id] = env
	}
	return out, nil
}

// NamesResource reports whether a template value refers to a resource of
// the template (Ref, GetAtt, or a ${Name} of Fn::Sub), anywhere inside it.
func NamesResource(t *Template, v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, arg := range x {
			switch k {
			case "Ref":
				if _, ok := t.Resources[asString(arg)]; ok {
					return true
				}
			case "Fn::GetAtt":
				return true
			case "Fn::Sub":
				tmpl := asString(arg)
				if l := asList(arg); len(l) == 2 {
					tmpl = asString(l[0])
					if NamesResource(t, l[1]) {
						return true
					}
				}
				for _, m := range subVar.FindAllStringSubmatch(tmpl, -1) {
					name, _, _ := strings.Cut(m[1], ".")
					if _, ok := t.Resources[name]; ok {
						return true
					}
				}
			default:
				if NamesResource(t, arg) {
					return true
				}
			}
		}
	case []any:
		for _, e := range x {
			if NamesResource(t, e) {
				return true
			}
		}
	}
	return false
}

// SamLocalGroup is a set of functions that share one value of every
// variable they declare, so that they can run as one local stack with one
// Config.Env (which, like --env-vars, reaches declared variables only).
type SamLocalGroup struct {
	IDs []string
	Env map[string]string
}

// SamLocalGroups splits SamLocalEnv's functions into such sets.
func SamLocalGroups(env map[string]map[string]string) []SamLocalGroup {
	var groups []SamLocalGroup
	ids := make([]string, 0, len(env))
	for id := range env {
		ids = append(ids, id)
	}
	sort.Strings(ids)
next:
	for _, id := range ids {
		for i, g := range groups {
			fits := true
			for k, v := range env[id] {
				if gv, ok := g.Env[k]; ok && gv != v {
					fits = false
					break
				}
			}
			if fits {
				for k, v := range env[id] {
					g.Env[k] = v
				}
				groups[i].IDs = append(groups[i].IDs, id)
				continue next
			}
		}
		g := SamLocalGroup{IDs: []string{id}, Env: map[string]string{}}
		for k, v := range env[id] {
			g.Env[k] = v
		}
		groups = append(groups, g)
	}
	return groups
}

// CreateQueuesOnly creates the template's queues on the SQS server
// cfg.SQSEndpoint (sam local has none of its own) and returns their URLs.
func CreateQueuesOnly(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	t, err := ReadTemplate(cfg.Template)
	if err != nil {
		return nil, err
	}
	params := DevParams("http://localhost:3000")
	for k, v := range cfg.Params {
		params[k] = v
	}
	r, err := NewResolver(t, params, cfg.Region)
	if err != nil {
		return nil, err
	}
	if _, err := createQueues(ctx, cfg.SQSEndpoint, t, r, cfg.TablePrefix, cfg.Region, nil); err != nil {
		return nil, err
	}
	var urls []string
	for _, id := range t.ResourcesOfType("AWS::SQS::Queue") {
		if url, ok := r.Refs[id]; ok {
			urls = append(urls, url)
		}
	}
	return urls, nil
}
