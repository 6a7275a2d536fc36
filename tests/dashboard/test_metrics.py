"""dashboard.metrics: what /metrics reports, read as Prometheus reads it (the text format)."""

import gc

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dashboard import metrics


def full_passes() -> float:
    text = generate_latest(metrics.REGISTRY).decode()
    [family] = [f for f in text_string_to_metric_families(text)
                if f.name == "connmodel_gc_pass_seconds"]
    return sum(s.value for s in family.samples
               if s.name.endswith("_count") and s.labels == {"generation": "2"})


def test_a_full_garbage_collector_pass_is_counted_with_its_generation():
    before = full_passes()
    gc.collect()  # a full pass, as Panel runs after sessions end
    assert full_passes() == before + 1
