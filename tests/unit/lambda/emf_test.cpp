#include "lambda/emf.hpp"

#include <chrono>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace obsync::lambda {
namespace {

constexpr std::int64_t k_now = 1'796'590'498'123;

// The units CloudWatch documents for MetricDatum.Unit.
const std::set<std::string> k_allowed_units = {"Seconds",
                                               "Microseconds",
                                               "Milliseconds",
                                               "Bytes",
                                               "Kilobytes",
                                               "Megabytes",
                                               "Gigabytes",
                                               "Terabytes",
                                               "Bits",
                                               "Kilobits",
                                               "Megabits",
                                               "Gigabits",
                                               "Terabits",
                                               "Percent",
                                               "Count",
                                               "Bytes/Second",
                                               "Kilobytes/Second",
                                               "Megabytes/Second",
                                               "Gigabytes/Second",
                                               "Terabytes/Second",
                                               "Bits/Second",
                                               "Kilobits/Second",
                                               "Megabits/Second",
                                               "Gigabits/Second",
                                               "Terabits/Second",
                                               "Count/Second",
                                               "None"};

// Checks a serialized record against the EMF specification and returns it parsed: the metadata
// shape, an integer Timestamp, every dimension a top-level string, every metric a top-level
// number, units from the allowed list, at most 100 metrics and 30 dimensions per set.
boost::json::object checked_record(const std::string& line) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one record is one line";
    const boost::json::object record = boost::json::parse(line).as_object();
    const auto& aws = record.at("_aws").as_object();
    EXPECT_TRUE(aws.at("Timestamp").is_int64());
    const auto& directives = aws.at("CloudWatchMetrics").as_array();
    EXPECT_EQ(directives.size(), 1u);
    for (const auto& directive_value : directives) {
        const auto& directive = directive_value.as_object();
        EXPECT_EQ(directive.at("Namespace"), "Obsync/Lambda");
        for (const auto& set : directive.at("Dimensions").as_array()) {
            EXPECT_LE(set.as_array().size(), 30u);
            for (const auto& name : set.as_array()) {
                const auto* member = record.if_contains(name.as_string());
                EXPECT_NE(member, nullptr) << name;
                EXPECT_TRUE(member != nullptr && member->is_string() &&
                            !member->as_string().empty())
                    << name;
            }
        }
        const auto& metrics = directive.at("Metrics").as_array();
        EXPECT_LE(metrics.size(), 100u);
        for (const auto& metric_value : metrics) {
            const auto& metric = metric_value.as_object();
            const std::string name(metric.at("Name").as_string());
            EXPECT_TRUE(k_allowed_units.contains(std::string(metric.at("Unit").as_string())))
                << metric.at("Unit");
            const auto* member = record.if_contains(name);
            EXPECT_TRUE(member != nullptr && member->is_number()) << name;
        }
    }
    return record;
}

std::vector<std::vector<std::string>> dimension_sets(const boost::json::object& record) {
    std::vector<std::vector<std::string>> sets;
    const auto& directive = record.at("_aws").at("CloudWatchMetrics").as_array().at(0);
    for (const auto& set : directive.at("Dimensions").as_array()) {
        auto& names = sets.emplace_back();
        for (const auto& name : set.as_array()) {
            names.emplace_back(name.as_string());
        }
    }
    return sets;
}

using Sets = std::vector<std::vector<std::string>>;

std::string unit_of(const boost::json::object& record, std::string_view metric) {
    const auto& directive = record.at("_aws").at("CloudWatchMetrics").as_array().at(0);
    for (const auto& m : directive.at("Metrics").as_array()) {
        if (m.at("Name").as_string() == metric) {
            return std::string(m.at("Unit").as_string());
        }
    }
    return "(missing)";
}

backup::VaultOutcome finished_vault() {
    backup::VaultOutcome outcome;
    outcome.id = "a1b2c3";
    outcome.name = "Notes";
    outcome.created = 5;
    outcome.updated = 3;
    outcome.deleted = 2;
    outcome.unchanged = 100;
    outcome.bytes_downloaded = 123'456;
    outcome.duration = std::chrono::milliseconds(2'500);
    return outcome;
}

TEST(Emf, AVaultRecordHasTheContractsDimensionsMetricsAndUnits) {
    const std::string line = vault_metrics(finished_vault(), "obsync-fn", k_now).serialize();
    EXPECT_NE(line.find(R"("SyncDuration":2.5,)"), std::string::npos) << line;
    const auto record = checked_record(line);

    EXPECT_EQ(record.at("_aws").at("Timestamp").as_int64(), k_now);
    // The function-wide set first (what alarms watch), then the per-vault one.
    EXPECT_EQ(dimension_sets(record), (Sets{{"FunctionName"}, {"VaultID", "FunctionName"}}));
    EXPECT_EQ(record.at("VaultID"), "a1b2c3");
    EXPECT_EQ(record.at("FunctionName"), "obsync-fn");
    EXPECT_DOUBLE_EQ(record.at("SyncDuration").to_number<double>(), 2.5);
    EXPECT_EQ(record.at("FilesProcessed").as_int64(), 10);
    EXPECT_EQ(record.at("SyncSuccess").as_int64(), 1);
    EXPECT_EQ(record.at("BytesDownloaded").as_int64(), 123'456);
    EXPECT_EQ(record.at("FilesFailed").as_int64(), 0);
    EXPECT_EQ(unit_of(record, "SyncDuration"), "Seconds");
    EXPECT_EQ(unit_of(record, "FilesProcessed"), "Count");
    EXPECT_EQ(unit_of(record, "SyncSuccess"), "Count");
    EXPECT_EQ(unit_of(record, "BytesDownloaded"), "Bytes");
    EXPECT_EQ(unit_of(record, "FilesFailed"), "Count");
    EXPECT_EQ(record.size(), 8u);  // _aws, two dimensions, five metrics: nothing else
}

TEST(Emf, WithoutPerVaultMetricsAVaultRecordHasOnlyTheFunctionSetButKeepsItsId) {
    const auto record = checked_record(
        vault_metrics(finished_vault(), "fn", k_now, VaultMetricDimensions::function).serialize());
    EXPECT_EQ(dimension_sets(record), (Sets{{"FunctionName"}}));
    EXPECT_EQ(record.at("VaultID"), "a1b2c3");
    EXPECT_EQ(record.at("SyncSuccess").as_int64(), 1);
}

TEST(Emf, ADimensionSetMayNameOnlyTheRecordsDimensions) {
    MetricsRecord record(std::string(k_metrics_namespace), k_now);
    record.add_dimension("A", "1").add_dimension("B", "2");
    EXPECT_THROW(record.add_dimension_set({"A", "C"}), Error);
    record.add_dimension_set({"B"}).add_dimension_set({"A", "B"});
    record.add_metric("M", std::int64_t{1}, MetricUnit::count);
    EXPECT_EQ(dimension_sets(checked_record(record.serialize())), (Sets{{"B"}, {"A", "B"}}));
}

TEST(Emf, AVaultWithFailedFilesIsNoSuccessAndCountsThem) {
    auto outcome = finished_vault();
    outcome.failures.push_back({"a.md", 1, {ErrorKind::crypto, "bad tag"}});
    outcome.failures.push_back({"b.md", 2, {ErrorKind::network, "reset"}});
    const auto record = checked_record(vault_metrics(outcome, "fn", k_now).serialize());
    EXPECT_EQ(record.at("SyncSuccess").as_int64(), 0);
    EXPECT_EQ(record.at("FilesFailed").as_int64(), 2);
}

TEST(Emf, AVaultErrorIsNoSuccess) {
    auto outcome = finished_vault();
    outcome.error = backup::Failure{ErrorKind::busy, "another run holds the vault"};
    const auto record = checked_record(vault_metrics(outcome, "fn", k_now).serialize());
    EXPECT_EQ(record.at("SyncSuccess").as_int64(), 0);
}

TEST(Emf, AVaultStoppedEarlyAtTheDeadlineWithoutFailuresIsASuccess) {
    auto outcome = finished_vault();
    outcome.stopped_early = true;
    outcome.not_attempted = 40;
    const auto record = checked_record(vault_metrics(outcome, "fn", k_now).serialize());
    EXPECT_EQ(record.at("SyncSuccess").as_int64(), 1);
}

TEST(Emf, AVaultWithoutAnIdIsNamedAndNeverEmpty) {
    auto outcome = finished_vault();
    outcome.id.clear();
    EXPECT_EQ(checked_record(vault_metrics(outcome, "fn", k_now).serialize()).at("VaultID"),
              "Notes");
    outcome.name.clear();
    EXPECT_EQ(checked_record(vault_metrics(outcome, "fn", k_now).serialize()).at("VaultID"),
              "unknown");
}

TEST(Emf, ADriftRecordCountsTheDifferingPathsOfOneVault) {
    const auto record =
        checked_record(drift_metric("a1b2c3", 4, 3, "obsync-fn", k_now).serialize());
    EXPECT_EQ(dimension_sets(record), (Sets{{"FunctionName"}, {"VaultID", "FunctionName"}}));
    EXPECT_EQ(record.at("VaultID"), "a1b2c3");
    EXPECT_EQ(record.at("BackupDrift").as_int64(), 4);
    EXPECT_EQ(unit_of(record, "BackupDrift"), "Count");
    EXPECT_EQ(record.at("BackupDriftPending").as_int64(), 3);
    EXPECT_EQ(unit_of(record, "BackupDriftPending"), "Count");
    EXPECT_EQ(record.size(), 5u);  // _aws, two dimensions, two metrics
    const auto function_only = checked_record(
        drift_metric("", 0, 0, "fn", k_now, VaultMetricDimensions::function).serialize());
    EXPECT_EQ(dimension_sets(function_only), (Sets{{"FunctionName"}}));
    EXPECT_EQ(function_only.at("VaultID"), "unknown");
    EXPECT_THROW(drift_metric("a1b2c3", 0, 0, "", k_now), Error);
}

TEST(Emf, AColdStartIsOneCountPerFunction) {
    const auto record = checked_record(cold_start_metric("obsync-fn", k_now).serialize());
    EXPECT_EQ(dimension_sets(record), (Sets{{"FunctionName"}}));
    EXPECT_EQ(record.at("FunctionName"), "obsync-fn");
    EXPECT_EQ(record.at("ColdStart").as_int64(), 1);
    EXPECT_EQ(unit_of(record, "ColdStart"), "Count");
    EXPECT_EQ(record.at("_aws").at("Timestamp").as_int64(), k_now);
}

TEST(Emf, AnEmptyFunctionNameIsRefused) {
    EXPECT_THROW(cold_start_metric("", k_now), Error);
    EXPECT_THROW(vault_metrics(finished_vault(), "", k_now), Error);
}

TEST(Emf, EveryUnitHasAnAllowedName) {
    for (int u = static_cast<int>(MetricUnit::seconds); u <= static_cast<int>(MetricUnit::none);
         ++u) {
        const std::string name(to_string(static_cast<MetricUnit>(u)));
        EXPECT_TRUE(k_allowed_units.contains(name)) << u << " " << name;
    }
}

TEST(Emf, ARecordTakesAHundredMetricsAndNoMore) {
    MetricsRecord record("Test/NS", k_now);
    record.add_dimension("D", "d");
    for (int i = 0; i < 100; ++i) {
        record.add_metric("M" + std::to_string(i), std::int64_t{i}, MetricUnit::count);
    }
    EXPECT_THROW(record.add_metric("M100", std::int64_t{1}, MetricUnit::count), Error);
    EXPECT_EQ(record.metric_count(), 100u);

    const auto parsed = boost::json::parse(record.serialize()).as_object();
    EXPECT_EQ(parsed.at("_aws").at("CloudWatchMetrics").at(0).at("Metrics").as_array().size(),
              100u);
    EXPECT_EQ(parsed.at("M99").as_int64(), 99);
}

TEST(Emf, ADimensionSetTakesThirtyDimensionsAndNoMore) {
    MetricsRecord record("Test/NS", k_now);
    for (int i = 0; i < 30; ++i) {
        record.add_dimension("D" + std::to_string(i), "v");
    }
    EXPECT_THROW(record.add_dimension("D30", "v"), Error);
    EXPECT_EQ(record.dimension_count(), 30u);
}

TEST(Emf, NamesAreUniqueAcrossDimensionsMetricsAndMetadata) {
    MetricsRecord record("Test/NS", k_now);
    record.add_dimension("Vault", "v");
    record.add_metric("Files", std::int64_t{1}, MetricUnit::count);
    EXPECT_THROW(record.add_dimension("Vault", "w"), Error);
    EXPECT_THROW(record.add_metric("Vault", std::int64_t{1}, MetricUnit::count), Error);
    EXPECT_THROW(record.add_dimension("Files", "x"), Error);
    EXPECT_THROW(record.add_metric("Files", 2.0, MetricUnit::count), Error);
    EXPECT_THROW(record.add_metric("_aws", std::int64_t{1}, MetricUnit::count), Error);
    EXPECT_THROW(record.add_metric("", std::int64_t{1}, MetricUnit::count), Error);
}

TEST(Emf, EmptyDimensionValuesAndNonFiniteNumbersAreRefused) {
    MetricsRecord record("Test/NS", k_now);
    EXPECT_THROW(record.add_dimension("D", ""), Error);
    EXPECT_THROW(
        record.add_metric("Inf", std::numeric_limits<double>::infinity(), MetricUnit::none), Error);
    EXPECT_THROW(
        record.add_metric("NaN", std::numeric_limits<double>::quiet_NaN(), MetricUnit::none),
        Error);
    EXPECT_EQ(record.metric_count(), 0u);
}

TEST(Emf, HostileDimensionValuesStayOneValidLine) {
    MetricsRecord record(std::string(k_metrics_namespace), k_now);
    record.add_dimension("D", "a\"b\nc\xff");
    record.add_metric("M", 0.25, MetricUnit::percent);
    const auto parsed = checked_record(record.serialize());
    EXPECT_EQ(parsed.at("D"), "a\"b\nc\xEF\xBF\xBD");
    EXPECT_DOUBLE_EQ(parsed.at("M").as_double(), 0.25);
}

}  // namespace
}  // namespace obsync::lambda
