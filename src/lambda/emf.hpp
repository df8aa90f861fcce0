#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "backup/report.hpp"

namespace obsync::lambda {

// CloudWatch Embedded Metric Format: a log line that Lambda's log agent turns into metrics
// without an API call. One record is one JSON object:
//   {"_aws":{"Timestamp":<epoch ms>,"CloudWatchMetrics":[{"Namespace":…,
//            "Dimensions":[[<dimension names>]],"Metrics":[{"Name":…,"Unit":…}…]}]},
//    <every dimension name>: <its string value>, <every metric name>: <its number>}

inline constexpr std::string_view k_metrics_namespace = "Obsync/Lambda";

// The units CloudWatch accepts; an enum, so a record cannot name another.
enum class MetricUnit {
    seconds,
    microseconds,
    milliseconds,
    bytes,
    kilobytes,
    megabytes,
    gigabytes,
    terabytes,
    bits,
    kilobits,
    megabits,
    gigabits,
    terabits,
    percent,
    count,
    bytes_per_second,
    kilobytes_per_second,
    megabytes_per_second,
    gigabytes_per_second,
    terabytes_per_second,
    bits_per_second,
    kilobits_per_second,
    megabits_per_second,
    gigabits_per_second,
    terabits_per_second,
    count_per_second,
    none,
};

// "Seconds", "Bytes/Second", "Count", "None"...
std::string_view to_string(MetricUnit unit) noexcept;

// One EMF record: one namespace, one or more dimension sets over its dimensions, up to 100
// metrics. Each dimension set makes CloudWatch store every metric once more (and bill it as
// another custom metric). Every name appears once
// as a top-level member, so dimension and metric names must differ from each other and from
// "_aws". Violations are programming errors and throw Error{bad_input} when they are made; more
// metrics than fit go into a second record.
class MetricsRecord {
public:
    static constexpr std::size_t k_max_metrics = 100;    // per directive (CloudWatch's limit)
    static constexpr std::size_t k_max_dimensions = 30;  // per dimension set
    static constexpr std::size_t k_max_name_chars = 255;
    static constexpr std::size_t k_max_dimension_value_chars = 1024;

    MetricsRecord(std::string metrics_namespace, std::int64_t timestamp_ms);

    // Values must be non-empty (CloudWatch drops a metric with an empty dimension value).
    MetricsRecord& add_dimension(std::string name, std::string value);
    // Adds a dimension set of dimensions already added (by name). Without any call, the record
    // has one set: all its dimensions. A name that is not a dimension throws Error{bad_input}.
    MetricsRecord& add_dimension_set(std::vector<std::string> names);
    // Integers are written as JSON integers; a double must be finite.
    MetricsRecord& add_metric(std::string name, std::int64_t value, MetricUnit unit);
    MetricsRecord& add_metric(std::string name, double value, MetricUnit unit);

    std::size_t metric_count() const noexcept { return m_metrics.size(); }
    std::size_t dimension_count() const noexcept { return m_dimensions.size(); }

    boost::json::object to_json() const;
    // The record as one line of JSON, without the newline (Logger::write_line adds it).
    std::string serialize() const;

private:
    struct Metric {
        std::string name;
        std::variant<std::int64_t, double> value;
        MetricUnit unit;
    };

    void check_new_name(const std::string& name) const;
    bool has_dimension(const std::string& name) const;
    MetricsRecord& push_metric(std::string name, std::variant<std::int64_t, double> value,
                               MetricUnit unit);

    std::string m_namespace;
    std::int64_t m_timestamp_ms;
    std::vector<std::pair<std::string, std::string>> m_dimensions;
    std::vector<std::vector<std::string>> m_dimension_sets;  // empty: one set of all dimensions
    std::vector<Metric> m_metrics;
};

// Which dimension sets a vault's metrics get. `function` ([["FunctionName"]]) is what alarms
// watch: one metric per name however many vaults there are. `per_vault` adds
// [["VaultID","FunctionName"]]: a graph per vault, at the price of one custom metric per metric
// name and vault (OBSYNC_VAULT_METRICS, docs/cost.md).
enum class VaultMetricDimensions { function, per_vault };

// One vault of one invocation, dimension sets as chosen above (VaultID is always a member of
// the record, so Logs Insights can group by it either way):
//   SyncDuration (Seconds), FilesProcessed (Count: created + updated + deleted),
//   SyncSuccess (Count: 1 if outcome.ok(), so a vault stopped early at the deadline without
//   failures is a success; else 0), BytesDownloaded (Bytes), FilesFailed (Count: the files that
//   failed in this run; refused names are not counted here but make SyncSuccess 0).
// VaultID is the vault's id (its name if the id is empty, "unknown" if both are). An empty
// `function_name` throws Error{bad_input} (LambdaConfig always has one).
MetricsRecord vault_metrics(const backup::VaultOutcome& outcome, std::string_view function_name,
                            std::int64_t timestamp_ms,
                            VaultMetricDimensions dimensions = VaultMetricDimensions::per_vault);

// One vault verified ({"action":"verify"}), dimension sets as vault_metrics: BackupDrift (Count),
// the number of paths where the backup differs from the server (0: it equals the server), and
// BackupDriftPending (Count), the part of them the server changed after the backup's cursor (the
// next backup fixes those by itself; BackupDriftAlarm watches BackupDrift - BackupDriftPending).
// VaultID as in vault_metrics. Not written for a vault whose verification failed: nothing was
// measured.
MetricsRecord drift_metric(std::string_view vault_id, std::int64_t drift, std::int64_t pending,
                           std::string_view function_name, std::int64_t timestamp_ms,
                           VaultMetricDimensions dimensions = VaultMetricDimensions::per_vault);

// A cold invocation, dimensions [["FunctionName"]]: ColdStart (Count) = 1.
MetricsRecord cold_start_metric(std::string_view function_name, std::int64_t timestamp_ms);

// One count of the function, dimensions [["FunctionName"]]: the queue's metrics
// (MessagesQueued, PermanentFailures, Continuations, ContinuationStalled; docs/lambda.md).
MetricsRecord function_count_metric(std::string_view function_name, std::int64_t timestamp_ms,
                                    std::string name, std::int64_t count);

}  // namespace obsync::lambda
