#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace obsync {

// Text the server supplies (vault names, paths, error messages that quote them) is data. Printed
// raw, an ESC or BEL in a path would drive the user's terminal, and a bidi override would make a
// name read as another. These helpers are the one place that makes such text safe to print; the
// rules are documented for users in docs/cli.md ("Names and paths in the output").

// The longest name shown whole in text output (characters); longer ones are cut in the middle.
inline constexpr std::size_t k_display_max_chars = 120;
// Error messages quote paths and the server's own words: a longer limit, the same cut.
inline constexpr std::size_t k_display_max_message_chars = 400;

// Decodes the well-formed UTF-8 sequence at `text[pos]` (no overlong forms, no surrogates,
// nothing above U+10FFFF) into `code_point`; returns its length, or 0 if the bytes there are not
// one. `pos` must be < text.size().
std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t& code_point) noexcept;

bool is_valid_utf8(std::string_view text) noexcept;

// `text` with each byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

// A code point a terminal may act on or that changes how the text around it reads: C0 controls,
// DEL, C1 controls (U+0080..U+009F), the Unicode Bidi_Control characters (U+061C, U+200E,
// U+200F, U+202A..U+202E, U+2066..U+2069) and the line and paragraph separators U+2028, U+2029.
bool is_terminal_control(char32_t code_point) noexcept;

// `text` unambiguously, on one line, with nothing a terminal acts on: a backslash is doubled;
// \a \b \t \n \v \f \r and \e (ESC) stand for those controls; any other C0 control, DEL, and every
// byte that is not part of well-formed UTF-8 is \xNN (two lowercase hex digits); the other
// terminal controls above are \u{XXXX} (at least four uppercase hex digits). Everything else,
// valid non-ASCII UTF-8 included, is unchanged.
std::string printable(std::string_view text);

// `text` if it has at most `max_chars` characters, else its head and tail around "…" (U+2026),
// `max_chars` characters in all. Characters are whole UTF-8 sequences (a byte that is not part of
// one counts as one), so the cut never splits a sequence and printable() treats the result as it
// would the original.
std::string shorten(std::string_view text, std::size_t max_chars = k_display_max_chars);

// What text output shows of a server-supplied name or path: shortened, then printable.
std::string display_name(std::string_view text);
// What text output shows of an error message: shortened to the message limit, then printable.
std::string display_message(std::string_view text);

}  // namespace obsync
