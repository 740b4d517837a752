// Package metric writes CloudWatch metrics as log lines, in the embedded
// metric format (EMF): CloudWatch Logs turns each such JSON line into a
// data point, with no API call and no client. An alarm can then watch a
// fact the code knows (a callback abandoned) rather than a log search.
package metric

import (
	"log/slog"
	"time"
)

// Namespace is where the bundle's own metrics live.
const Namespace = "privacykeeper"

// Count returns the attributes that make a JSON log line (slog's JSON
// handler) also count one of name, dimensioned by the line's "function"
// field (lambdalog.New sets it to the function's name).
func Count(name string, at time.Time) []slog.Attr {
	return []slog.Attr{
		slog.Any("_aws", map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{"function"}},
				"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
			}},
		}),
		slog.Int(name, 1),
	}
}

// CountBy is Count with a second dimension set: the count by function, and
// by function and dimension (whose value the line carries), so an alarm can
// watch the total and a dashboard split it (per controller, say). value
// must name no one.
func CountBy(name string, at time.Time, dimension, value string) []slog.Attr {
	return []slog.Attr{
		slog.Any("_aws", map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{"function"}, {"function", dimension}},
				"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
			}},
		}),
		slog.String(dimension, value),
		slog.Int(name, 1),
	}
}
