#include "util/display.hpp"

#include <gtest/gtest.h>

namespace obsync {
namespace {

using namespace std::string_literals;

TEST(Printable, LeavesPlainAndNonAsciiTextAlone) {
    EXPECT_EQ(printable(""), "");
    EXPECT_EQ(printable("Notes/Hello world.md"), "Notes/Hello world.md");
    EXPECT_EQ(printable("caf\u00e9/\u65e5\u672c/\U0001F600.md"),
              "caf\u00e9/\u65e5\u672c/\U0001F600.md");
}

TEST(Printable, EscapesTheNamedControls) {
    EXPECT_EQ(printable("a\ab\bc\td\ne\vf\fg\rh\x1bi"), R"(a\ab\bc\td\ne\vf\fg\rh\ei)");
}

TEST(Printable, EscapesOtherControlsAndDelAsHex) {
    EXPECT_EQ(printable("\0x"s), R"(\x00x)");
    EXPECT_EQ(printable("\x01\x1f\x7f"), R"(\x01\x1f\x7f)");
}

TEST(Printable, DoublesABackslashSoEscapesAreUnambiguous) {
    EXPECT_EQ(printable(R"(a\b)"), R"(a\\b)");
    // A literal "\e" and an ESC byte print differently.
    EXPECT_NE(printable(R"(\e)"), printable("\x1b"));
    EXPECT_EQ(printable(R"(\e)"), R"(\\e)");
}

TEST(Printable, EscapesEachInvalidUtf8Byte) {
    EXPECT_EQ(printable("a\xff"
                        "b"),
              R"(a\xffb)");
    EXPECT_EQ(printable("\xc3"), R"(\xc3)");                          // truncated sequence
    EXPECT_EQ(printable("\xc3\x28"), R"(\xc3()");                     // bad continuation
    EXPECT_EQ(printable("\xc0\xaf"), R"(\xc0\xaf)");                  // overlong '/'
    EXPECT_EQ(printable("\xe0\x80\xaf"), R"(\xe0\x80\xaf)");          // overlong, 3 bytes
    EXPECT_EQ(printable("\xed\xa0\x80"), R"(\xed\xa0\x80)");          // a surrogate
    EXPECT_EQ(printable("\xf4\x90\x80\x80"), R"(\xf4\x90\x80\x80)");  // above U+10FFFF
    EXPECT_EQ(printable("\x80"), R"(\x80)");                          // a lone continuation byte
}

TEST(Printable, EscapesC1ControlsAndBidiControlsAsCodePoints) {
    EXPECT_EQ(printable("\u0085"), R"(\u{0085})");
    EXPECT_EQ(printable("a\u009bb"), R"(a\u{009B}b)");
    EXPECT_EQ(printable("evil\u202Etxt.exe"), R"(evil\u{202E}txt.exe)");
    for (const char32_t cp : {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x2066,
                              0x2067, 0x2068, 0x2069, 0x2028, 0x2029}) {
        EXPECT_TRUE(is_terminal_control(cp)) << std::hex << static_cast<unsigned>(cp);
    }
    EXPECT_EQ(printable("\u2066x\u2069"), R"(\u{2066}x\u{2069})");
    // Neighbours stay.
    EXPECT_EQ(printable("\u00a0\u2029"), "\u00a0\\u{2029}");
    EXPECT_EQ(printable("\u202F\u2065"), "\u202F\u2065");
}

TEST(Printable, OutputHasNoControlByteAndIsValidUtf8) {
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += static_cast<char>(i);
    }
    const std::string out = printable(all);
    EXPECT_TRUE(is_valid_utf8(out));
    for (const char c : out) {
        const auto b = static_cast<unsigned char>(c);
        EXPECT_TRUE(b >= 0x20 && b != 0x7f) << static_cast<int>(b);
    }
}

TEST(Utf8, ValidatesStrictly) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("caf\u00e9 \U0010FFFF"));
    EXPECT_FALSE(is_valid_utf8("\xff"));
    EXPECT_FALSE(is_valid_utf8("\xc1\xbf"));
    EXPECT_FALSE(is_valid_utf8("\xed\xbf\xbf"));
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
}

TEST(Utf8, ReplacesEachInvalidByteWithReplacementCharacter) {
    EXPECT_EQ(to_valid_utf8("ok"), "ok");
    EXPECT_EQ(to_valid_utf8("a\xff"
                            "b\xe2\x82"),
              "a\uFFFDb\uFFFD\uFFFD");
    EXPECT_EQ(to_valid_utf8("\u00e9"), "\u00e9");
}

TEST(Shorten, KeepsTextUpToTheLimit) {
    EXPECT_EQ(shorten("", 10), "");
    EXPECT_EQ(shorten("0123456789", 10), "0123456789");
    const std::string exactly(120, 'a');
    EXPECT_EQ(shorten(exactly), exactly);
}

TEST(Shorten, CutsTheMiddleAroundAnEllipsis) {
    EXPECT_EQ(shorten("0123456789A", 10), "0123\u20266789A");
    const std::string long_name = std::string(300, 'h') + std::string(300, 't');
    const std::string shown = shorten(long_name);
    EXPECT_EQ(shown, std::string(59, 'h') + "\u2026" + std::string(60, 't'));
}

TEST(Shorten, CountsCharactersNotBytesAndNeverSplitsASequence) {
    std::string text;
    for (int i = 0; i < 20; ++i) {
        text += "\u65e5";  // 3 bytes each
    }
    const std::string shown = shorten(text, 9);
    EXPECT_EQ(shown, "\u65e5\u65e5\u65e5\u65e5\u2026\u65e5\u65e5\u65e5\u65e5");
    EXPECT_TRUE(is_valid_utf8(shown));
}

TEST(Shorten, CountsAStrayByteAsOneCharacter) {
    const std::string text = "\xff" + std::string(20, 'x') + "\xfe";
    EXPECT_EQ(printable(shorten(text, 5)), R"(\xffx…x\xfe)");
}

TEST(Shorten, TinyLimitsStillTerminate) {
    EXPECT_EQ(shorten("abc", 1), "\u2026");
    EXPECT_EQ(shorten("abc", 0), "\u2026");
    EXPECT_EQ(shorten("abc", 2), "\u2026c");
}

TEST(Display, NameIsShortenedThenEscaped) {
    const std::string name = "\x1b[31m" + std::string(600, 'n') + "\a.md";
    const std::string shown = display_name(name);
    EXPECT_EQ(shown.find('\x1b'), std::string::npos);
    EXPECT_EQ(shown.find('\a'), std::string::npos);
    EXPECT_EQ(shown.substr(0, 7), R"(\e[31mn)");
    EXPECT_EQ(shown.substr(shown.size() - 6), R"(n\a.md)");
    EXPECT_NE(shown.find("\u2026"), std::string::npos);
    EXPECT_LT(shown.size(), 140U);
}

TEST(Display, MessagesHaveALongerLimit) {
    const std::string message = "unsafe path \"" + std::string(200, 'p') + "\": \x1b";
    EXPECT_EQ(display_message(message), "unsafe path \"" + std::string(200, 'p') + "\": \\e");
    EXPECT_NE(display_message(std::string(1000, 'm')).find("\u2026"), std::string::npos);
}

}  // namespace
}  // namespace obsync
