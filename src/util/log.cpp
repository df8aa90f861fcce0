#include "util/log.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ostream>

#include <boost/json/object.hpp>

#include "util/ascii.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync {

namespace {

constexpr std::array<std::string_view, 4> k_core_keys = {"timestamp", "level", "message",
                                                         "service"};
constexpr std::size_t k_min_secret_chars = 4;
constexpr std::string_view k_redacted = "***";

bool is_core_key(std::string_view key) {
    return std::find(k_core_keys.begin(), k_core_keys.end(), key) != k_core_keys.end();
}

std::string output_key(std::string_view key) {
    return is_core_key(key) ? "extra_" + std::string(key) : std::string(key);
}

using Secrets = std::vector<std::string>;

// Every occurrence of every secret replaced; `secrets` is longest first, so a secret that
// contains another is replaced whole.
std::string redact(std::string_view text, const Secrets& secrets) {
    std::string out(text);
    for (const std::string& secret : secrets) {
        for (std::size_t pos = out.find(secret); pos != std::string::npos;
             pos = out.find(secret, pos + k_redacted.size())) {
            out.replace(pos, secret.size(), k_redacted);
        }
    }
    return out;
}

// A text-format value: printable, and quoted when a reader could not tell where it ends.
std::string text_value(const LogValue::Variant& value, const Secrets& secrets) {
    if (const auto* s = std::get_if<std::string>(&value)) {
        std::string shown = printable(redact(*s, secrets));
        const bool quote = shown.empty() || shown.find_first_of(" \"=()") != std::string::npos;
        if (!quote) {
            return shown;
        }
        std::string quoted = "\"";
        for (const char c : shown) {
            if (c == '"') {
                quoted += '\\';
            }
            quoted += c;
        }
        return quoted + "\"";
    }
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
        return std::to_string(*i);
    }
    if (const auto* u = std::get_if<std::uint64_t>(&value)) {
        return std::to_string(*u);
    }
    if (const auto* d = std::get_if<double>(&value)) {
        std::array<char, 32> buffer{};  // the shortest round trip, as in the JSON format
        const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), *d);
        return std::string(buffer.data(), result.ptr);
    }
    return std::get<bool>(value) ? "true" : "false";
}

boost::json::value json_value(const LogValue::Variant& value, const Secrets& secrets) {
    if (const auto* s = std::get_if<std::string>(&value)) {
        return boost::json::string(redact(*s, secrets));  // json::serialize_line makes it UTF-8
    }
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
        return *i;
    }
    if (const auto* u = std::get_if<std::uint64_t>(&value)) {
        return *u;
    }
    if (const auto* d = std::get_if<double>(&value)) {
        return *d;  // json::serialize_line writes NaN and infinities as null
    }
    return std::get<bool>(value);
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug:
            return "DEBUG";
        case LogLevel::info:
            return "INFO";
        case LogLevel::warning:
            return "WARNING";
        case LogLevel::error:
            return "ERROR";
    }
    return "INFO";
}

LogLevel parse_log_level(std::string_view text, std::string_view variable) {
    const std::string level = ascii_lower(text);
    if (level == "debug") {
        return LogLevel::debug;
    }
    if (level == "info") {
        return LogLevel::info;
    }
    if (level == "warning" || level == "warn") {
        return LogLevel::warning;
    }
    if (level == "error") {
        return LogLevel::error;
    }
    throw Error(ErrorKind::config, std::string(variable) +
                                       " must be DEBUG, INFO, WARNING or ERROR, not \"" +
                                       display_name(text) + "\"");
}

Logger::Logger(std::ostream& sink, LogFormat format, LogLevel threshold, std::string service,
               Clock clock)
    : m_sink(sink),
      m_format(format),
      m_threshold(threshold),
      m_service(std::move(service)),
      m_clock(clock ? std::move(clock) : Clock(epoch_ms)) {}

LogLevel Logger::threshold() const {
    std::lock_guard lock(m_mutex);
    return m_threshold;
}

void Logger::set_threshold(LogLevel threshold) {
    std::lock_guard lock(m_mutex);
    m_threshold = threshold;
}

bool Logger::enabled(LogLevel level) const {
    std::lock_guard lock(m_mutex);
    return level >= m_threshold;
}

void Logger::set_context(std::string_view key, LogValue value) {
    std::lock_guard lock(m_mutex);
    const auto it = std::find_if(m_context.begin(), m_context.end(),
                                 [&](const Entry& e) { return e.key == key; });
    if (it != m_context.end()) {
        it->value = std::move(value);
    } else {
        m_context.push_back({std::string(key), std::move(value)});
    }
}

void Logger::remove_context(std::string_view key) {
    std::lock_guard lock(m_mutex);
    std::erase_if(m_context, [&](const Entry& e) { return e.key == key; });
}

void Logger::clear_context() {
    std::lock_guard lock(m_mutex);
    m_context.clear();
}

void Logger::add_secret(std::string_view secret) {
    if (secret.size() < k_min_secret_chars) {
        return;
    }
    std::lock_guard lock(m_mutex);
    if (std::find(m_secrets.begin(), m_secrets.end(), secret) != m_secrets.end()) {
        return;
    }
    m_secrets.emplace_back(secret);
    std::stable_sort(
        m_secrets.begin(), m_secrets.end(),
        [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Logger::clear_secrets() {
    std::lock_guard lock(m_mutex);
    m_secrets.clear();
}

void Logger::log(LogLevel level, std::string_view message, LogFields fields) noexcept {
    try {
        std::lock_guard lock(m_mutex);
        if (level < m_threshold) {
            return;
        }
        write_locked(format_locked(level, message, fields));
    } catch (...) {
        // Losing one record beats failing the work it describes (e.g. std::bad_alloc).
    }
}

void Logger::debug(std::string_view message, LogFields fields) noexcept {
    log(LogLevel::debug, message, fields);
}

void Logger::info(std::string_view message, LogFields fields) noexcept {
    log(LogLevel::info, message, fields);
}

void Logger::warning(std::string_view message, LogFields fields) noexcept {
    log(LogLevel::warning, message, fields);
}

void Logger::error(std::string_view message, LogFields fields) noexcept {
    log(LogLevel::error, message, fields);
}

void Logger::write_line(std::string_view line) noexcept {
    try {
        std::string text(line);
        text += '\n';
        std::lock_guard lock(m_mutex);
        write_locked(text);
    } catch (...) {
    }
}

std::string Logger::format(LogLevel level, std::string_view message, LogFields fields) const {
    std::lock_guard lock(m_mutex);
    return format_locked(level, message, fields);
}

std::string Logger::format_locked(LogLevel level, std::string_view message,
                                  LogFields fields) const {
    // The context in order, each value replaced by a field of the same name, then the other fields.
    std::vector<std::pair<std::string_view, const LogValue*>> entries;
    entries.reserve(m_context.size() + fields.size());
    const auto field_named = [&](std::string_view key) -> const LogValue* {
        for (const LogField& f : fields) {
            if (f.key == key) {
                return &f.value;
            }
        }
        return nullptr;
    };
    for (const Entry& e : m_context) {
        const LogValue* override_value = field_named(e.key);
        entries.emplace_back(e.key, override_value != nullptr ? override_value : &e.value);
    }
    for (const LogField& f : fields) {
        const bool in_context = std::any_of(m_context.begin(), m_context.end(),
                                            [&](const Entry& e) { return e.key == f.key; });
        if (!in_context) {
            entries.emplace_back(f.key, &f.value);
        }
    }

    if (m_format == LogFormat::text) {
        std::string line = m_service + ": " + ascii_lower(to_string(level)) + ": " +
                           printable(redact(message, m_secrets));
        if (!entries.empty()) {
            line += " (";
            bool first = true;
            for (const auto& [key, value] : entries) {
                if (!first) {
                    line += ' ';
                }
                first = false;
                line += printable(key) + "=" + text_value(value->get(), m_secrets);
            }
            line += ')';
        }
        return line + "\n";
    }

    boost::json::object record;
    record["timestamp"] = iso8601_utc_ms(m_clock());
    record["level"] = to_string(level);
    record["message"] = printable(redact(message, m_secrets));  // printable() is valid UTF-8
    record["service"] = m_service;
    for (const auto& [key, value] : entries) {
        // A later field of the same name (a caller's slip) wins, as in an assignment.
        record[output_key(key)] = json_value(value->get(), m_secrets);
    }
    return json::serialize_line(record) + "\n";
}

void Logger::write_locked(std::string_view line) noexcept {
    try {
        m_sink.write(line.data(), static_cast<std::streamsize>(line.size()));
        m_sink.flush();
    } catch (...) {
        // A stream set to throw on failure: the record is lost, the caller carries on.
    }
}

namespace {
Logger* g_process_logger = nullptr;
}  // namespace

Logger* process_logger() noexcept {
    return g_process_logger;
}

void set_process_logger(Logger* logger) noexcept {
    g_process_logger = logger;
}

}  // namespace obsync
