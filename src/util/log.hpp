#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace obsync {

// Structured logging for both faces. On Lambda each record is one JSON object on one line of
// stdout with the keys of the AWS Lambda Powertools Logger, so CloudWatch Logs Insights queries
// written for Powertools work unchanged:
//   {"timestamp":"2026-12-06T20:54:58.123Z","level":"INFO","message":"...","service":"obsync",
//    <context keys, in the order they were first set>, <the call's fields, in order>}
// In a terminal a record is one line of text on stderr:
//   obsync: warning: message (key=value key="a value")

enum class LogLevel { debug, info, warning, error };

// "DEBUG", "INFO", "WARNING", "ERROR".
std::string_view to_string(LogLevel level) noexcept;

// DEBUG, INFO, WARNING (or WARN), ERROR in any case. Anything else is Error{config} naming
// `variable` and the accepted values.
LogLevel parse_log_level(std::string_view text, std::string_view variable = "OBSYNC_LOG_LEVEL");

enum class LogFormat { json, text };

// A field's value: a string, an integer, a floating-point number or a boolean. Integers keep
// their signedness (byte counts above 2^63 stay exact); a character pointer is a string, never a
// boolean.
class LogValue {
public:
    using Variant = std::variant<std::string, std::int64_t, std::uint64_t, double, bool>;

    LogValue(std::string value) : m_value(std::move(value)) {}
    LogValue(std::string_view value) : m_value(std::string(value)) {}
    LogValue(const char* value) : m_value(std::string(value)) {}
    LogValue(bool value) : m_value(value) {}
    template <std::signed_integral T>
    LogValue(T value) : m_value(static_cast<std::int64_t>(value)) {}
    template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>) LogValue(T value)
        : m_value(static_cast<std::uint64_t>(value)) {}
    template <std::floating_point T>
    LogValue(T value) : m_value(static_cast<double>(value)) {}

    const Variant& get() const noexcept { return m_value; }

private:
    Variant m_value;
};

struct LogField {
    std::string key;
    LogValue value;
};

using LogFields = std::initializer_list<LogField>;

// Writes records at or above its threshold to one std::ostream. Each record is formatted in full
// and handed to the stream in one write, then flushed: Lambda's log agent reads stdout line by
// line, and a record split across two writes could interleave with another thread's.
//
// Text from outside (messages quoting server data, paths) cannot break a line: messages go
// through printable() (util/display.hpp), JSON string values are made valid UTF-8 and escaped
// by the serializer; in text format every string goes through printable().
//
// The core keys (timestamp, level, message, service) cannot be replaced: a context key or a
// field with one of those names is written as "extra_<name>". A field with the name of a context
// key replaces the context value in that record only.
//
// Redaction is the callers' job (util/error.hpp: no secret is ever formatted into a message).
// As a second line of defence, the logger replaces every registered secret that appears in a
// message or a string value with "***". Secrets shorter than 4 characters are ignored (they
// would match ordinary text); with none registered the check costs nothing.
//
// Thread-safe: one mutex guards the context, the secrets and the write.
class Logger {
public:
    using Clock = std::function<std::int64_t()>;  // epoch milliseconds

    // `clock` defaults to the wall clock (util/clock.hpp); tests pass a fixed one.
    Logger(std::ostream& sink, LogFormat format, LogLevel threshold, std::string service = "obsync",
           Clock clock = {});

    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    LogLevel threshold() const;
    void set_threshold(LogLevel threshold);
    bool enabled(LogLevel level) const;

    // Persistent keys written in every record after the core keys (cold_start, function_name,
    // function_request_id... on Lambda). Setting a key again replaces its value in place.
    void set_context(std::string_view key, LogValue value);
    void remove_context(std::string_view key);
    void clear_context();

    void add_secret(std::string_view secret);
    void clear_secrets();

    // Never throws: a record that cannot be formatted or written is lost, not the caller's work.
    void log(LogLevel level, std::string_view message, LogFields fields = {}) noexcept;
    void debug(std::string_view message, LogFields fields = {}) noexcept;
    void info(std::string_view message, LogFields fields = {}) noexcept;
    void warning(std::string_view message, LogFields fields = {}) noexcept;
    void error(std::string_view message, LogFields fields = {}) noexcept;

    // Writes a line formatted elsewhere (an EMF metrics record) through the same sink and lock,
    // in one write, adding the newline. Not filtered by level and not redacted.
    void write_line(std::string_view line) noexcept;

    // The record log() would write, newline included; whatever the threshold.
    std::string format(LogLevel level, std::string_view message, LogFields fields = {}) const;

private:
    struct Entry {
        std::string key;
        LogValue value;
    };

    std::string format_locked(LogLevel level, std::string_view message, LogFields fields) const;
    void write_locked(std::string_view line) noexcept;

    mutable std::mutex m_mutex;
    std::ostream& m_sink;
    LogFormat m_format;
    LogLevel m_threshold;
    std::string m_service;
    Clock m_clock;
    std::vector<Entry> m_context;
    std::vector<std::string> m_secrets;  // longest first, so a secret inside another is covered
};

// The logger for records from deep inside a run (retries, reconnects, lease take-overs,
// deadline stops), or null: then they are not written (the CLI's text output stays quiet). The
// Lambda function and `obsync sync --log-format json` set it for the life of the process; it is
// not synchronised, so set it before any work starts.
Logger* process_logger() noexcept;
void set_process_logger(Logger* logger) noexcept;

}  // namespace obsync
