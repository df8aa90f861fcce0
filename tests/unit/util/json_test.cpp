#include "util/json.hpp"

#include <limits>
#include <string>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace obsync::json {
namespace {

TEST(SerializeLine, NumbersAreTheirShortestDecimal) {
    const boost::json::object doc{{"half", 1.5},  {"tenth", 0.1},
                                  {"whole", 2.0}, {"big", 1e21},
                                  {"int", -7},    {"uint", std::uint64_t{18446744073709551615u}},
                                  {"yes", true},  {"none", nullptr}};
    EXPECT_EQ(serialize_line(doc), R"({"half":1.5,"tenth":0.1,"whole":2,"big":1e+21,"int":-7,)"
                                   R"("uint":18446744073709551615,"yes":true,"none":null})");
}

TEST(SerializeLine, NonFiniteNumbersAreNull) {
    const boost::json::array doc{std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::quiet_NaN()};
    EXPECT_EQ(serialize_line(doc), "[null,null,null]");
}

TEST(SerializeLine, NestedValuesKeepTheirOrder) {
    const boost::json::object doc{
        {"b", boost::json::array{1, "x", boost::json::object{{"c", 0.5}}}},
        {"a", boost::json::object{}}};
    EXPECT_EQ(serialize_line(doc), R"({"b":[1,"x",{"c":0.5}],"a":{}})");
}

TEST(SerializeLine, ControlsQuotesAndBackslashesAreEscaped) {
    const std::string line = serialize_line(boost::json::string("a\"b\\c\nd\x1b\x7f"));
    EXPECT_EQ(line, R"("a\"b\\c\nd\u001b\u007F")");
}

TEST(SerializeLine, TerminalControlsAboveAsciiAreUnicodeEscapes) {
    // U+009B (CSI), U+202E (right-to-left override), U+2028 (line separator); é stays.
    const std::string line = serialize_line(boost::json::object{{"k\xe2\x80\xae",
                                                                 "\xc2\x9b"
                                                                 "caf\xc3\xa9\xe2\x80\xa8"}});
    EXPECT_EQ(line, R"({"k\u202E":"\u009Bcaf)"
                    "\xc3\xa9"
                    R"(\u2028"})");
    const auto parsed = boost::json::parse(line).as_object();
    EXPECT_EQ(parsed.at("k\xe2\x80\xae"),
              "\xc2\x9b"
              "caf\xc3\xa9\xe2\x80\xa8");
}

TEST(SerializeLine, InvalidUtf8BecomesReplacementCharacters) {
    const std::string line = serialize_line(boost::json::string("a\xff\xc3"));
    EXPECT_EQ(line, "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace obsync::json
