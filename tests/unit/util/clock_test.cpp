#include "util/clock.hpp"

#include <ctime>

#include <gtest/gtest.h>

namespace obsync {
namespace {

TEST(Clock, EpochMsIsTheWallClockInMilliseconds) {
    const std::int64_t before = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
    const std::int64_t now = epoch_ms();
    const std::int64_t after = (static_cast<std::int64_t>(std::time(nullptr)) + 1) * 1000;
    EXPECT_GE(now, before);
    EXPECT_LE(now, after);
}

TEST(Clock, Iso8601IsUtcToTheSecond) {
    EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(iso8601_utc(1'700'000'000'999), "2023-11-14T22:13:20Z");
    EXPECT_EQ(iso8601_utc(-1), "1969-12-31T23:59:59Z");
}

TEST(Clock, Iso8601WithMillisecondsKeepsThreeDigits) {
    EXPECT_EQ(iso8601_utc_ms(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(iso8601_utc_ms(1'700'000'000'999), "2023-11-14T22:13:20.999Z");
    EXPECT_EQ(iso8601_utc_ms(1'700'000'000'007), "2023-11-14T22:13:20.007Z");
    EXPECT_EQ(iso8601_utc_ms(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(iso8601_utc_ms(-1000), "1969-12-31T23:59:59.000Z");
}

TEST(Clock, EpochMsNeverGoesBackwardsWithinARun) {
    std::int64_t last = epoch_ms();
    for (int i = 0; i < 1000; ++i) {
        const std::int64_t now = epoch_ms();
        EXPECT_GE(now, last);
        last = now;
    }
}

}  // namespace
}  // namespace obsync

namespace obsync {
namespace {

TEST(Clock, ParsesWhatS3AndTheLogsWrite) {
    EXPECT_EQ(parse_iso8601_utc("1970-01-01T00:00:00Z"), std::optional<std::int64_t>(0));
    EXPECT_EQ(parse_iso8601_utc("1970-01-01T00:00:00.001Z"), std::optional<std::int64_t>(1));
    EXPECT_EQ(parse_iso8601_utc("2026-12-06T05:45:53.123Z"),
              std::optional<std::int64_t>(1796535953123));
    // S3's LastModified: milliseconds written as .000; a longer fraction is cut, not rounded.
    EXPECT_EQ(parse_iso8601_utc("2009-10-12T17:50:30.000Z"),
              std::optional<std::int64_t>(1255369830000));
    EXPECT_EQ(parse_iso8601_utc("2009-10-12T17:50:30.9999Z"),
              std::optional<std::int64_t>(1255369830999));
    EXPECT_EQ(parse_iso8601_utc("2024-02-29t00:00:00.5z"),
              std::optional<std::int64_t>(1709164800500));
    // Round trip with the formatters.
    for (const std::int64_t ms : {std::int64_t{0}, std::int64_t{951782400000},
                                  std::int64_t{1796535953123}, std::int64_t{4102444799999}}) {
        EXPECT_EQ(parse_iso8601_utc(iso8601_utc_ms(ms)), std::optional<std::int64_t>(ms));
    }
}

TEST(Clock, RefusesWhatIsNotAnIso8601UtcTime) {
    for (const char* bad :
         {"", "2026-12-06", "2026-12-06T05:45:53", "2026-12-06T05:45:53+01:00",
          "2026-12-06 05:45:53Z", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
          "2026-12-06T24:00:00Z", "2026-12-06T05:45:53.Z", "2026-12-06T05:45:53ZZ",
          "20x6-12-06T05:45:53Z", "2026-12-06T05:45:53.12aZ"}) {
        EXPECT_FALSE(parse_iso8601_utc(bad)) << bad;
    }
}

TEST(ParseMoment, TakesIsoTimesAndAgesBeforeNow) {
    const std::int64_t now = 1'800'000'000'000;
    EXPECT_EQ(parse_moment("2026-11-20T10:00:00Z", now), parse_iso8601_utc("2026-11-20T10:00:00Z"));
    EXPECT_EQ(parse_moment("-3d", now), now - 3 * 86'400'000);
    EXPECT_EQ(parse_moment("-1d12h", now), now - 36 * 3'600'000);
    EXPECT_EQ(parse_moment("-90m", now), now - 90 * 60'000);
    EXPECT_EQ(parse_moment("-2w", now), now - 14 * 86'400'000);
    EXPECT_EQ(parse_moment("-45s", now), now - 45'000);
    EXPECT_EQ(parse_moment("-0s", now), now);
}

TEST(ParseMoment, RefusesAnythingElse) {
    const std::int64_t now = 1'800'000'000'000;
    for (const char* bad : {"", "-", "3d", "-d", "-3", "-3x", "-3d-", "+3d", "-3.5d", "-d3",
                            "yesterday", "-99999999999999999999s", "-5300w", "2026-11-20"}) {
        EXPECT_EQ(parse_moment(bad, now), std::nullopt) << bad;
    }
}

}  // namespace
}  // namespace obsync
