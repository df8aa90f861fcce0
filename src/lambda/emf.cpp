#include "lambda/emf.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json/array.hpp>

#include "util/display.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::lambda {

namespace {

constexpr std::string_view k_metadata_key = "_aws";

[[noreturn]] void refuse(const std::string& why) {
    throw Error(ErrorKind::bad_input, "EMF record: " + why);
}

}  // namespace

std::string_view to_string(MetricUnit unit) noexcept {
    switch (unit) {
        case MetricUnit::seconds:
            return "Seconds";
        case MetricUnit::microseconds:
            return "Microseconds";
        case MetricUnit::milliseconds:
            return "Milliseconds";
        case MetricUnit::bytes:
            return "Bytes";
        case MetricUnit::kilobytes:
            return "Kilobytes";
        case MetricUnit::megabytes:
            return "Megabytes";
        case MetricUnit::gigabytes:
            return "Gigabytes";
        case MetricUnit::terabytes:
            return "Terabytes";
        case MetricUnit::bits:
            return "Bits";
        case MetricUnit::kilobits:
            return "Kilobits";
        case MetricUnit::megabits:
            return "Megabits";
        case MetricUnit::gigabits:
            return "Gigabits";
        case MetricUnit::terabits:
            return "Terabits";
        case MetricUnit::percent:
            return "Percent";
        case MetricUnit::count:
            return "Count";
        case MetricUnit::bytes_per_second:
            return "Bytes/Second";
        case MetricUnit::kilobytes_per_second:
            return "Kilobytes/Second";
        case MetricUnit::megabytes_per_second:
            return "Megabytes/Second";
        case MetricUnit::gigabytes_per_second:
            return "Gigabytes/Second";
        case MetricUnit::terabytes_per_second:
            return "Terabytes/Second";
        case MetricUnit::bits_per_second:
            return "Bits/Second";
        case MetricUnit::kilobits_per_second:
            return "Kilobits/Second";
        case MetricUnit::megabits_per_second:
            return "Megabits/Second";
        case MetricUnit::gigabits_per_second:
            return "Gigabits/Second";
        case MetricUnit::terabits_per_second:
            return "Terabits/Second";
        case MetricUnit::count_per_second:
            return "Count/Second";
        case MetricUnit::none:
            return "None";
    }
    return "None";
}

MetricsRecord::MetricsRecord(std::string metrics_namespace, std::int64_t timestamp_ms)
    : m_namespace(std::move(metrics_namespace)), m_timestamp_ms(timestamp_ms) {
    if (m_namespace.empty() || m_namespace.size() > k_max_name_chars) {
        refuse("the namespace must have 1 to 255 characters");
    }
}

void MetricsRecord::check_new_name(const std::string& name) const {
    if (name.empty() || name.size() > k_max_name_chars) {
        refuse("a metric or dimension name must have 1 to 255 characters");
    }
    if (!is_valid_utf8(name)) {
        refuse("a metric or dimension name must be UTF-8");
    }
    const bool taken = name == k_metadata_key || has_dimension(name) ||
                       std::any_of(m_metrics.begin(), m_metrics.end(),
                                   [&](const Metric& m) { return m.name == name; });
    if (taken) {
        refuse("the name \"" + display_name(name) + "\" is used twice");
    }
}

MetricsRecord& MetricsRecord::add_dimension(std::string name, std::string value) {
    if (m_dimensions.size() >= k_max_dimensions) {
        refuse("more than 30 dimensions in one set");
    }
    check_new_name(name);
    if (value.empty() || value.size() > k_max_dimension_value_chars) {
        refuse("the value of dimension \"" + display_name(name) +
               "\" must have 1 to 1024 characters");
    }
    // A value is data (a vault id from the server): never let it make the line invalid JSON.
    m_dimensions.emplace_back(std::move(name), to_valid_utf8(value));
    return *this;
}

MetricsRecord& MetricsRecord::add_dimension_set(std::vector<std::string> names) {
    if (names.size() > k_max_dimensions) {
        refuse("more than 30 dimensions in one set");
    }
    for (const std::string& name : names) {
        if (!has_dimension(name)) {
            refuse("the dimension set names \"" + display_name(name) +
                   "\", which is not a dimension of the record");
        }
    }
    m_dimension_sets.push_back(std::move(names));
    return *this;
}

bool MetricsRecord::has_dimension(const std::string& name) const {
    return std::any_of(m_dimensions.begin(), m_dimensions.end(),
                       [&](const auto& d) { return d.first == name; });
}

MetricsRecord& MetricsRecord::push_metric(std::string name,
                                          std::variant<std::int64_t, double> value,
                                          MetricUnit unit) {
    if (m_metrics.size() >= k_max_metrics) {
        refuse("more than 100 metrics in one record");
    }
    check_new_name(name);
    m_metrics.push_back({std::move(name), value, unit});
    return *this;
}

MetricsRecord& MetricsRecord::add_metric(std::string name, std::int64_t value, MetricUnit unit) {
    return push_metric(std::move(name), value, unit);
}

MetricsRecord& MetricsRecord::add_metric(std::string name, double value, MetricUnit unit) {
    if (!std::isfinite(value)) {
        refuse("the value of metric \"" + display_name(name) + "\" is not a finite number");
    }
    return push_metric(std::move(name), value, unit);
}

boost::json::object MetricsRecord::to_json() const {
    boost::json::array dimension_sets;
    if (m_dimension_sets.empty()) {
        boost::json::array dimension_names;
        for (const auto& [name, value] : m_dimensions) {
            dimension_names.emplace_back(name);
        }
        dimension_sets.emplace_back(std::move(dimension_names));
    }
    for (const auto& set : m_dimension_sets) {
        boost::json::array dimension_names;
        for (const std::string& name : set) {
            dimension_names.emplace_back(name);
        }
        dimension_sets.emplace_back(std::move(dimension_names));
    }

    boost::json::array metric_definitions;
    for (const Metric& metric : m_metrics) {
        metric_definitions.emplace_back(
            boost::json::object{{"Name", metric.name}, {"Unit", to_string(metric.unit)}});
    }

    boost::json::object directive;
    directive["Namespace"] = m_namespace;
    directive["Dimensions"] = std::move(dimension_sets);
    directive["Metrics"] = std::move(metric_definitions);

    boost::json::array directives;
    directives.emplace_back(std::move(directive));

    boost::json::object record;
    record[k_metadata_key] = boost::json::object{{"Timestamp", m_timestamp_ms},
                                                 {"CloudWatchMetrics", std::move(directives)}};
    for (const auto& [name, value] : m_dimensions) {
        record[name] = value;
    }
    for (const Metric& metric : m_metrics) {
        std::visit([&](auto v) { record[metric.name] = v; }, metric.value);
    }
    return record;
}

std::string MetricsRecord::serialize() const {
    return json::serialize_line(to_json());
}

MetricsRecord vault_metrics(const backup::VaultOutcome& outcome, std::string_view function_name,
                            std::int64_t timestamp_ms, VaultMetricDimensions dimensions) {
    MetricsRecord record(std::string(k_metrics_namespace), timestamp_ms);
    // A metric with an empty dimension value is dropped by CloudWatch: say "unknown" instead.
    const std::string& vault = outcome.id.empty() ? outcome.name : outcome.id;
    record.add_dimension("VaultID", vault.empty() ? std::string("unknown") : vault);
    record.add_dimension("FunctionName", std::string(function_name));
    record.add_dimension_set({"FunctionName"});
    if (dimensions == VaultMetricDimensions::per_vault) {
        record.add_dimension_set({"VaultID", "FunctionName"});
    }
    record.add_metric("SyncDuration", static_cast<double>(outcome.duration.count()) / 1000.0,
                      MetricUnit::seconds);
    record.add_metric("FilesProcessed", outcome.created + outcome.updated + outcome.deleted,
                      MetricUnit::count);
    // A vault the deadline kept from starting was not backed up: not a success to alert on.
    record.add_metric("SyncSuccess", std::int64_t{outcome.ok() && !outcome.skipped ? 1 : 0},
                      MetricUnit::count);
    record.add_metric("BytesDownloaded", outcome.bytes_downloaded, MetricUnit::bytes);
    record.add_metric("FilesFailed", outcome.failed(), MetricUnit::count);
    return record;
}

MetricsRecord drift_metric(std::string_view vault_id, std::int64_t drift, std::int64_t pending,
                           std::string_view function_name, std::int64_t timestamp_ms,
                           VaultMetricDimensions dimensions) {
    MetricsRecord record(std::string(k_metrics_namespace), timestamp_ms);
    record.add_dimension("VaultID",
                         vault_id.empty() ? std::string("unknown") : std::string(vault_id));
    record.add_dimension("FunctionName", std::string(function_name));
    record.add_dimension_set({"FunctionName"});
    if (dimensions == VaultMetricDimensions::per_vault) {
        record.add_dimension_set({"VaultID", "FunctionName"});
    }
    record.add_metric("BackupDrift", drift, MetricUnit::count);
    record.add_metric("BackupDriftPending", pending, MetricUnit::count);
    return record;
}

MetricsRecord cold_start_metric(std::string_view function_name, std::int64_t timestamp_ms) {
    return function_count_metric(function_name, timestamp_ms, "ColdStart", 1);
}

MetricsRecord function_count_metric(std::string_view function_name, std::int64_t timestamp_ms,
                                    std::string name, std::int64_t count) {
    if (function_name.empty()) {
        throw Error(ErrorKind::bad_input, "a metric needs a function name");
    }
    MetricsRecord record(std::string(k_metrics_namespace), timestamp_ms);
    record.add_dimension("FunctionName", std::string(function_name));
    record.add_metric(std::move(name), count, MetricUnit::count);
    return record;
}

}  // namespace obsync::lambda
