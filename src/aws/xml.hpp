#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace obsync::aws {

// Just enough XML for S3's replies, which are flat and machine-written: elements are found by
// name, never by position, and their text has its five predefined entities and numeric character
// references decoded. Not a general XML parser: no attributes, CDATA or namespaces prefixes.

// The raw inner XML of every <tag>…</tag> (or nothing for <tag/>), in document order.
std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag);
// The decoded text of the first <tag>, if any.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
// Decodes &amp; &lt; &gt; &quot; &apos; &#N; &#xN; (UTF-8 out). Throws Error{protocol} on others.
std::string xml_unescape(std::string_view text);
// Escapes & < > " ' for element text.
std::string xml_escape(std::string_view text);

}  // namespace obsync::aws
