#!/usr/bin/env python3
"""Parses `ferrite monitor --prometheus` output with prometheus_client's own parser and
checks its content:

    python tests/monitor/parse_prometheus.py METRICS.txt FEATURES SHIFTED_INDEX|-

Requires the families ferrite_monitor_rows (counter), ferrite_feature_psi,
ferrite_feature_drift_p_value, ferrite_feature_shifted, ferrite_feature_missing,
ferrite_feature_out_of_range (gauges, one sample per feature), the output gauges and
the latency histogram (cumulative buckets ending in +Inf = _count); and that
ferrite_feature_shifted is 1 for SHIFTED_INDEX only (none for "-").
Prints one summary line; exits 1 on a mismatch.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main(path, features, shifted):
    features = int(features)
    fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
    errors = []
    want = {"ferrite_monitor_rows": "counter", "ferrite_feature_psi": "gauge",
            "ferrite_feature_drift_p_value": "gauge", "ferrite_feature_shifted": "gauge",
            "ferrite_feature_missing": "gauge", "ferrite_feature_out_of_range": "gauge",
            "ferrite_output_psi": "gauge", "ferrite_output_drift_p_value": "gauge",
            "ferrite_output_shifted": "gauge"}
    for name, kind in want.items():
        if name not in fams:
            errors.append(f"missing family {name}")
        elif fams[name].type != kind:
            errors.append(f"{name} is a {fams[name].type}, not a {kind}")
    for name in ("ferrite_feature_psi", "ferrite_feature_shifted"):
        if name in fams and len(fams[name].samples) != features:
            errors.append(f"{name}: {len(fams[name].samples)} samples for {features} features")
    flagged = sorted(int(s.labels["index"]) for s in fams.get("ferrite_feature_shifted").samples
                     if s.value == 1) if "ferrite_feature_shifted" in fams else []
    expect = [] if shifted == "-" else [int(shifted)]
    if flagged != expect:
        errors.append(f"shifted features {flagged}, expected {expect}")
    lat = [f for n, f in fams.items() if n.startswith("ferrite_predict_latency")]
    if len(lat) != 1 or lat[0].type != "histogram":
        errors.append("no latency histogram")
    else:
        buckets = [s for s in lat[0].samples if s.name.endswith("_bucket")]
        count = [s.value for s in lat[0].samples if s.name.endswith("_count")]
        values = [s.value for s in buckets]
        if values != sorted(values) or buckets[-1].labels["le"] != "+Inf" \
                or count != [values[-1]]:
            errors.append("latency buckets are not cumulative up to +Inf = _count")
    print(f"parsed {len(fams)} metric families; shifted features {flagged}")
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
