package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/infra/local"
)

// coldStarts times, for every function behind the HTTP API, the first
// invocation of fresh emulator processes (its first declared route, path
// parameters filled in): package init, configuration, secret and clients,
// and the handler, in runs fresh processes. It returns the median of each,
// in milliseconds.
func coldStarts(ctx context.Context, fns map[string]*local.Function, runs int) (map[string]float64, error) {
	out := map[string]float64{}
	ids := make([]string, 0, len(fns))
	for id := range fns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ev, ok := firstRoute(fns[id])
		if !ok {
			continue
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return out, err
		}
		var times []time.Duration
		for range runs {
			d, err := fns[id].ColdStart(ctx, b)
			if err != nil {
				return out, fmt.Errorf("cold start %s: %w", id, err)
			}
			times = append(times, d)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		out[id] = float64(times[len(times)/2].Microseconds()) / 1000
	}
	return out, nil
}

// firstRoute is an API Gateway (payload 2.0) event for the function's
// first HttpApi route, by route key.
func firstRoute(f *local.Function) (events.APIGatewayV2HTTPRequest, bool) {
	var keys []string
	for _, e := range f.Events {
		if e.Type != "HttpApi" {
			continue
		}
		m, _ := e.Properties["Method"].(string)
		p, _ := e.Properties["Path"].(string)
		if m != "" && p != "" {
			keys = append(keys, strings.ToUpper(m)+" "+p)
		}
	}
	if len(keys) == 0 {
		return events.APIGatewayV2HTTPRequest{}, false
	}
	sort.Strings(keys)
	method, path, _ := strings.Cut(keys[0], " ")
	params := map[string]string{}
	var parts []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") {
			name := strings.Trim(seg, "{}+")
			params[name], seg = "x", "x"
		}
		parts = append(parts, seg)
	}
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: keys[0], RawPath: strings.Join(parts, "/"),
		Headers: map[string]string{"accept": "application/json"}, PathParameters: params}
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = method, ev.RawPath
	ev.RequestContext.HTTP.SourceIP = "192.0.2.1"
	ev.RequestContext.RequestID = "cold-start"
	return ev, true
}
