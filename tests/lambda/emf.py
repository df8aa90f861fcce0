"""A validator for CloudWatch Embedded Metric Format (EMF) log lines.

Rules from the AWS specification (CloudWatch_Embedded_Metric_Format_Specification) and the
CloudWatch API limits it refers to:
- the line is one JSON object, nothing before or after it, at most 1 MB;
- _aws is an object with Timestamp (epoch milliseconds, an integer) and CloudWatchMetrics, an
  array of MetricDirective objects;
- MetricDirective: exactly Namespace (string, 1..255 characters, at least one non-whitespace, not
  starting with ':'), Dimensions (array of DimensionSets: arrays of at most 30 strings, each the
  name of a root member) and Metrics (array of at most 100 MetricDefinitions);
- MetricDefinition: Name (string, 1..255, a root member), optional Unit (one of CloudWatch's
  units), optional StorageResolution (1 or 60); nothing else;
- the root member of a dimension is a string of 1..1024 characters; the root member of a metric
  is a number or an array of at most 100 numbers (not booleans, not NaN/Infinity).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

MAX_LINE_BYTES = 1024 * 1024
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
MAX_NAME = 255
MAX_DIMENSION_VALUE = 1024

UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds",
        "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
        "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
        "Percent", "Count",
        "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
        "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
        "Gigabits/Second", "Terabits/Second", "Count/Second",
        "None",
    }
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(line: str | bytes) -> tuple[Any, list[str]]:
    raw = line.encode() if isinstance(line, str) else line
    errors = []
    if len(raw) > MAX_LINE_BYTES:
        errors.append(f"line is {len(raw)} bytes, over the 1 MB EMF limit")
    try:
        # NaN and Infinity are not JSON (RFC 8259), though Python would accept them.
        return json.loads(raw, parse_constant=_reject_constant), errors
    except ValueError as error:
        return None, errors + [f"not one JSON object: {error}"]


def is_emf(line: str | bytes | dict) -> bool:
    """True when the line is a JSON object with an _aws member (so it is meant as EMF)."""
    if isinstance(line, dict):
        return "_aws" in line
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and "_aws" in value


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
    )


def _check_name(what: str, name: Any, errors: list[str]) -> bool:
    if not isinstance(name, str):
        errors.append(f"{what} {name!r} is not a string")
        return False
    if not 1 <= len(name) <= MAX_NAME:
        errors.append(f"{what} {name!r} must have 1..{MAX_NAME} characters")
        return False
    if not name.strip():
        errors.append(f"{what} {name!r} has no non-whitespace character")
        return False
    return True


def validate(line: str | bytes | dict) -> list[str]:
    """Every rule the line breaks (empty: a valid EMF document)."""
    if isinstance(line, dict):
        doc, errors = line, []
    else:
        doc, errors = _parse(line)
        if doc is None:
            return errors
    if not isinstance(doc, dict):
        return errors + ["the root is not a JSON object"]
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        return errors + ["_aws is missing or not an object"]

    timestamp = meta.get("Timestamp")
    if "Timestamp" not in meta:
        errors.append("_aws.Timestamp is missing")
    elif isinstance(timestamp, bool) or not isinstance(timestamp, int):
        errors.append(f"_aws.Timestamp {timestamp!r} is not an integer (epoch milliseconds)")
    elif timestamp < 0:
        errors.append(f"_aws.Timestamp {timestamp} is negative")
    elif timestamp < 10**11:
        errors.append(f"_aws.Timestamp {timestamp} looks like seconds, not milliseconds")

    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return errors + ["_aws.CloudWatchMetrics is missing or not an array"]
    if not directives:
        errors.append("_aws.CloudWatchMetrics is empty")

    for index, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{index}]"
        if not isinstance(directive, dict):
            errors.append(f"{where} is not an object")
            continue
        extra = set(directive) - {"Namespace", "Dimensions", "Metrics"}
        if extra:
            errors.append(f"{where} has members the specification does not define: {sorted(extra)}")

        namespace = directive.get("Namespace")
        if "Namespace" not in directive:
            errors.append(f"{where}.Namespace is missing")
        elif _check_name(f"{where}.Namespace", namespace, errors) and namespace.startswith(":"):
            errors.append(f"{where}.Namespace {namespace!r} starts with ':'")

        dimensions = directive.get("Dimensions")
        if not isinstance(dimensions, list):
            errors.append(f"{where}.Dimensions is missing or not an array")
            dimensions = []
        for set_index, dimension_set in enumerate(dimensions):
            set_where = f"{where}.Dimensions[{set_index}]"
            if not isinstance(dimension_set, list):
                errors.append(f"{set_where} is not an array of dimension names")
                continue
            if len(dimension_set) > MAX_DIMENSIONS_PER_SET:
                errors.append(
                    f"{set_where} has {len(dimension_set)} dimensions, over {MAX_DIMENSIONS_PER_SET}"
                )
            for name in dimension_set:
                if not _check_name(f"{set_where} dimension", name, errors):
                    continue
                if name not in doc:
                    errors.append(f"dimension {name!r} is not a member of the root")
                    continue
                value = doc[name]
                if not isinstance(value, str):
                    errors.append(f"dimension {name!r} has the value {value!r}, not a string")
                elif not 1 <= len(value) <= MAX_DIMENSION_VALUE or not value.strip():
                    errors.append(
                        f"dimension {name!r} value must have 1..{MAX_DIMENSION_VALUE} characters, "
                        "one of them non-whitespace"
                    )

        metrics = directive.get("Metrics")
        if not isinstance(metrics, list):
            errors.append(f"{where}.Metrics is missing or not an array")
            metrics = []
        if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
            errors.append(f"{where}.Metrics has {len(metrics)} metrics, over {MAX_METRICS_PER_DIRECTIVE}")
        for metric_index, metric in enumerate(metrics):
            metric_where = f"{where}.Metrics[{metric_index}]"
            if not isinstance(metric, dict):
                errors.append(f"{metric_where} is not an object")
                continue
            extra = set(metric) - {"Name", "Unit", "StorageResolution"}
            if extra:
                errors.append(f"{metric_where} has members the specification does not define: {sorted(extra)}")
            name = metric.get("Name")
            if "Name" not in metric:
                errors.append(f"{metric_where}.Name is missing")
            elif _check_name(f"{metric_where}.Name", name, errors):
                if name not in doc:
                    errors.append(f"metric {name!r} is not a member of the root")
                else:
                    value = doc[name]
                    if isinstance(value, list):
                        if len(value) > MAX_VALUES_PER_METRIC:
                            errors.append(
                                f"metric {name!r} has {len(value)} values, over {MAX_VALUES_PER_METRIC}"
                            )
                        if not all(_is_number(v) for v in value):
                            errors.append(f"metric {name!r} has a value that is not a number: {value!r}")
                    elif not _is_number(value):
                        errors.append(f"metric {name!r} has the value {value!r}, not a number")
            if "Unit" in metric and metric["Unit"] not in UNITS:
                errors.append(f"{metric_where}.Unit {metric['Unit']!r} is not a CloudWatch unit")
            if "StorageResolution" in metric:
                resolution = metric["StorageResolution"]
                if isinstance(resolution, bool) or resolution not in (1, 60):
                    errors.append(f"{metric_where}.StorageResolution {resolution!r} is not 1 or 60")
    return errors


def emf_documents(lines: Iterable[str]) -> list[dict]:
    """The lines meant as EMF (JSON objects with _aws), parsed."""
    out = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "_aws" in value:
            out.append(value)
    return out


def metric_names(doc: dict) -> set[str]:
    """Every metric name the document's directives declare."""
    names = set()
    for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
        for metric in directive.get("Metrics", []):
            if isinstance(metric, dict) and isinstance(metric.get("Name"), str):
                names.add(metric["Name"])
    return names


def units(doc: dict) -> dict[str, str | None]:
    """Metric name -> its declared unit."""
    out = {}
    for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
        for metric in directive.get("Metrics", []):
            if isinstance(metric, dict) and isinstance(metric.get("Name"), str):
                out[metric["Name"]] = metric.get("Unit")
    return out


def dimension_sets(doc: dict) -> list[list[str]]:
    out = []
    for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
        out.extend(directive.get("Dimensions", []))
    return out
