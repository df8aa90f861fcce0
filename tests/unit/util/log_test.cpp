#include "util/log.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <limits>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace obsync {
namespace {

constexpr std::int64_t k_now = 1'796'590'498'123;  // 2026-12-06T20:54:58.123Z

Logger::Clock fixed_clock() {
    return [] { return k_now; };
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

boost::json::object only_record(const std::string& text) {
    const auto lines = lines_of(text);
    EXPECT_EQ(lines.size(), 1u) << text;
    EXPECT_TRUE(!text.empty() && text.back() == '\n');
    return boost::json::parse(lines.at(0)).as_object();
}

std::vector<std::string> keys_of(const boost::json::object& object) {
    std::vector<std::string> keys;
    for (const auto& member : object) {
        keys.emplace_back(member.key());
    }
    return keys;
}

// Counts the calls a stream makes on its buffer: one sputn and one sync per record.
class CountingBuffer : public std::streambuf {
public:
    std::vector<std::string> writes;
    int syncs = 0;

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        writes.emplace_back(s, static_cast<std::size_t>(n));
        return n;
    }
    int_type overflow(int_type c) override {
        if (c != traits_type::eof()) {
            writes.emplace_back(1, traits_type::to_char_type(c));
        }
        return c;
    }
    int sync() override {
        ++syncs;
        return 0;
    }
};

TEST(Log, AJsonRecordHasThePowertoolsCoreKeysFirst) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.info("backup started");

    const auto record = only_record(out.str());
    EXPECT_EQ(keys_of(record),
              (std::vector<std::string>{"timestamp", "level", "message", "service"}));
    EXPECT_EQ(record.at("timestamp"), "2026-12-06T20:54:58.123Z");
    EXPECT_EQ(record.at("level"), "INFO");
    EXPECT_EQ(record.at("message"), "backup started");
    EXPECT_EQ(record.at("service"), "obsync");
}

TEST(Log, EachLevelIsWrittenUnderItsPowertoolsName) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.debug("d");
    logger.info("i");
    logger.warning("w");
    logger.error("e");

    std::vector<std::string> levels;
    for (const auto& line : lines_of(out.str())) {
        levels.emplace_back(boost::json::parse(line).at("level").as_string());
    }
    EXPECT_EQ(levels, (std::vector<std::string>{"DEBUG", "INFO", "WARNING", "ERROR"}));
}

TEST(Log, ContextKeysFollowTheCoreKeysAndAreReplacedInPlace) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.set_context("cold_start", true);
    logger.set_context("function_name", "obsync-backup");
    logger.set_context("function_request_id", "req-1");
    logger.set_context("cold_start", false);
    logger.set_context("function_request_id", "req-2");
    logger.info("next invocation");

    const auto record = only_record(out.str());
    EXPECT_EQ(keys_of(record),
              (std::vector<std::string>{"timestamp", "level", "message", "service", "cold_start",
                                        "function_name", "function_request_id"}));
    EXPECT_EQ(record.at("cold_start"), false);
    EXPECT_EQ(record.at("function_request_id"), "req-2");
}

TEST(Log, RemovedAndClearedContextKeysAreGone) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.set_context("a", 1);
    logger.set_context("b", 2);
    logger.remove_context("a");
    logger.info("one");
    logger.clear_context();
    logger.info("two");

    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 2u);
    const auto first = boost::json::parse(lines[0]).as_object();
    EXPECT_FALSE(first.contains("a"));
    EXPECT_EQ(first.at("b"), 2);
    EXPECT_EQ(boost::json::parse(lines[1]).as_object().size(), 4u);
}

TEST(Log, FieldsKeepTheirTypesAndOrder) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    const std::string vault = "vault-1";
    logger.info("vault done", {{"vault_id", vault},
                               {"path", "notes/a.md"},
                               {"files", 3},
                               {"delta", std::int64_t{-2}},
                               {"bytes", std::numeric_limits<std::uint64_t>::max()},
                               {"seconds", 1.5},
                               {"ok", true}});

    EXPECT_NE(out.str().find(R"("seconds":1.5,)"), std::string::npos) << out.str();
    const auto record = only_record(out.str());
    EXPECT_EQ(keys_of(record),
              (std::vector<std::string>{"timestamp", "level", "message", "service", "vault_id",
                                        "path", "files", "delta", "bytes", "seconds", "ok"}));
    EXPECT_EQ(record.at("vault_id"), "vault-1");
    EXPECT_TRUE(record.at("path").is_string());  // a character pointer is no boolean
    EXPECT_EQ(record.at("files").as_int64(), 3);
    EXPECT_EQ(record.at("delta").as_int64(), -2);
    EXPECT_EQ(record.at("bytes").as_uint64(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_DOUBLE_EQ(record.at("seconds").as_double(), 1.5);
    EXPECT_EQ(record.at("ok").as_bool(), true);
}

TEST(Log, AFieldReplacesAContextValueInItsRecordOnly) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.set_context("vault_id", "outer");
    logger.info("one", {{"vault_id", "inner"}});
    logger.info("two");

    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 2u);
    const auto first = boost::json::parse(lines[0]).as_object();
    EXPECT_EQ(first.at("vault_id"), "inner");
    EXPECT_EQ(first.size(), 5u);  // no duplicate key
    EXPECT_EQ(boost::json::parse(lines[1]).at("vault_id"), "outer");
}

TEST(Log, CoreKeysCannotBeReplacedByFieldsOrContext) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.set_context("service", "spoofed");
    logger.info("real", {{"level", "ERROR"}, {"message", "fake"}});

    const auto record = only_record(out.str());
    EXPECT_EQ(record.at("level"), "INFO");
    EXPECT_EQ(record.at("message"), "real");
    EXPECT_EQ(record.at("service"), "obsync");
    EXPECT_EQ(record.at("extra_service"), "spoofed");
    EXPECT_EQ(record.at("extra_level"), "ERROR");
    EXPECT_EQ(record.at("extra_message"), "fake");
}

TEST(Log, ControlCharactersQuotesAndBadUtf8NeverBreakTheLine) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    const std::string hostile = "a\"b\\c\nd\re\x1b[31m\xff\xfe\xe2\x80\xae end";
    logger.warning(hostile, {{"path", hostile}});

    const std::string text = out.str();
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
    EXPECT_EQ(text.find('\r'), std::string::npos);
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos);  // the RLO is \u202E in the line
    const auto record = only_record(text);
    // The message as printable() shows it: controls and stray bytes spelled out.
    EXPECT_EQ(record.at("message"), "a\"b\\\\c\\nd\\re\\e[31m\\xff\\xfe\\u{202E} end");
    // Field values keep their text (the JSON escapes carry the controls), made valid UTF-8.
    EXPECT_EQ(record.at("path"), "a\"b\\c\nd\re\x1b[31m\xEF\xBF\xBD\xEF\xBF\xBD\xe2\x80\xae end");
}

TEST(Log, NonFiniteNumbersAreNull) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.info("m", {{"rate", std::numeric_limits<double>::infinity()},
                      {"ratio", std::numeric_limits<double>::quiet_NaN()}});
    const auto record = only_record(out.str());
    EXPECT_TRUE(record.at("rate").is_null());
    EXPECT_TRUE(record.at("ratio").is_null());
}

TEST(Log, RecordsBelowTheThresholdAreNotWritten) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::warning, "obsync", fixed_clock());
    logger.debug("d");
    logger.info("i");
    logger.warning("w");
    logger.error("e");
    EXPECT_FALSE(logger.enabled(LogLevel::info));
    EXPECT_TRUE(logger.enabled(LogLevel::warning));

    std::vector<std::string> messages;
    for (const auto& line : lines_of(out.str())) {
        messages.emplace_back(boost::json::parse(line).at("message").as_string());
    }
    EXPECT_EQ(messages, (std::vector<std::string>{"w", "e"}));

    logger.set_threshold(LogLevel::debug);
    logger.debug("now");
    EXPECT_EQ(lines_of(out.str()).size(), 3u);
}

TEST(Log, LevelsParseInAnyCaseWithWarnForWarning) {
    EXPECT_EQ(parse_log_level("DEBUG"), LogLevel::debug);
    EXPECT_EQ(parse_log_level("info"), LogLevel::info);
    EXPECT_EQ(parse_log_level("Warning"), LogLevel::warning);
    EXPECT_EQ(parse_log_level("WARN"), LogLevel::warning);
    EXPECT_EQ(parse_log_level("error"), LogLevel::error);
}

TEST(Log, AnUnknownLevelIsAConfigErrorNamingTheVariable) {
    try {
        parse_log_level("verbose");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_NE(std::string(e.what()).find("OBSYNC_LOG_LEVEL"), std::string::npos) << e.what();
    }
    try {
        parse_log_level("", "OTHER_LEVEL");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("OTHER_LEVEL"), std::string::npos) << e.what();
    }
}

TEST(Log, RegisteredSecretsAreMaskedInMessagesFieldsAndContext) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.add_secret("hunter22");
    logger.set_context("function_arn", "arn:hunter22");
    logger.info("signin with hunter22 failed (hunter22)", {{"detail", "pw=hunter22"}, {"n", 7}});

    const std::string text = out.str();
    EXPECT_EQ(text.find("hunter22"), std::string::npos) << text;
    const auto record = only_record(text);
    EXPECT_EQ(record.at("message"), "signin with *** failed (***)");
    EXPECT_EQ(record.at("detail"), "pw=***");
    EXPECT_EQ(record.at("function_arn"), "arn:***");
    EXPECT_EQ(record.at("n"), 7);
}

TEST(Log, ASecretInsideALongerSecretIsCoveredByTheLongerOne) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.add_secret("pass");
    logger.add_secret("password123");
    logger.info("x password123 y pass z");
    EXPECT_EQ(only_record(out.str()).at("message"), "x *** y *** z");
}

TEST(Log, SecretsShorterThanFourCharactersAreIgnored) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.add_secret("abc");
    logger.add_secret("");
    logger.info("abc and a");
    EXPECT_EQ(only_record(out.str()).at("message"), "abc and a");
}

TEST(Log, ClearedSecretsAreNoLongerMasked) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.add_secret("token-xyz");
    logger.clear_secrets();
    logger.info("token-xyz");
    EXPECT_EQ(only_record(out.str()).at("message"), "token-xyz");
}

TEST(Log, EachRecordIsOneWriteFollowedByAFlush) {
    CountingBuffer buffer;
    std::ostream out(&buffer);
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    logger.info("one", {{"k", "v"}});
    logger.error("two\nlines");
    logger.write_line(R"({"_aws":{}})");

    ASSERT_EQ(buffer.writes.size(), 3u);
    EXPECT_EQ(buffer.syncs, 3);
    for (const auto& write : buffer.writes) {
        EXPECT_EQ(std::count(write.begin(), write.end(), '\n'), 1) << write;
        EXPECT_EQ(write.back(), '\n');
    }
    EXPECT_EQ(buffer.writes[2], "{\"_aws\":{}}\n");
}

// Notices a write that starts while another is still going on; each write lingers a little so
// that unserialized writers would overlap.
class OverlapDetectingBuffer : public std::streambuf {
public:
    std::atomic<int> active{0};
    std::atomic<bool> overlapped{false};
    std::mutex lines_mutex;
    std::vector<std::string> lines;

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        if (active.fetch_add(1) != 0) {
            overlapped = true;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        {
            std::lock_guard lock(lines_mutex);
            lines.emplace_back(s, static_cast<std::size_t>(n));
        }
        active.fetch_sub(1);
        return n;
    }
};

TEST(Log, ConcurrentRecordsNeverOverlap) {
    OverlapDetectingBuffer buffer;
    std::ostream out(&buffer);
    Logger logger(out, LogFormat::json, LogLevel::debug, "obsync", fixed_clock());
    std::latch start(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&logger, &start, t] {
            start.arrive_and_wait();
            for (int i = 0; i < 50; ++i) {
                logger.info("record", {{"thread", t}, {"i", i}});
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_FALSE(buffer.overlapped);
    ASSERT_EQ(buffer.lines.size(), 200u);
    for (const auto& line : buffer.lines) {
        EXPECT_EQ(boost::json::parse(line).at("message"), "record");
    }
}

TEST(Log, TheTextFormatIsOneTerminalSafeLine) {
    std::ostringstream out;
    Logger logger(out, LogFormat::text, LogLevel::debug, "obsync", fixed_clock());
    logger.warning("disk \x1b[2J full", {{"vault_id", "v1"},
                                         {"path", "My Notes/a.md"},
                                         {"empty", ""},
                                         {"files", 3},
                                         {"seconds", 1234567.25},
                                         {"ok", false}});
    EXPECT_EQ(out.str(),
              "obsync: warning: disk \\e[2J full (vault_id=v1 path=\"My Notes/a.md\" empty=\"\" "
              "files=3 seconds=1234567.25 ok=false)\n");
}

TEST(Log, TheTextFormatWithoutFieldsHasNoParentheses) {
    std::ostringstream out;
    Logger logger(out, LogFormat::text, LogLevel::debug, "obsync", fixed_clock());
    logger.add_secret("s3cr3t-token");
    logger.error("token s3cr3t-token rejected");
    EXPECT_EQ(out.str(), "obsync: error: token *** rejected\n");
}

TEST(Log, FormatReturnsTheRecordWhateverTheThreshold) {
    std::ostringstream out;
    Logger logger(out, LogFormat::json, LogLevel::error, "svc", fixed_clock());
    const std::string line = logger.format(LogLevel::debug, "quiet");
    EXPECT_TRUE(out.str().empty());
    EXPECT_EQ(line,
              "{\"timestamp\":\"2026-12-06T20:54:58.123Z\",\"level\":\"DEBUG\",\"message\":"
              "\"quiet\",\"service\":\"svc\"}\n");
}

}  // namespace
}  // namespace obsync
