#include "net/url.hpp"

#include <gtest/gtest.h>

#include "support/test_util.hpp"

namespace obsync::net {
namespace {

TEST(Url, ParsesTheParts) {
    const Url a = Url::parse("https://api.obsidian.md/user/signin?x=1");
    EXPECT_EQ(a.scheme, "https");
    EXPECT_EQ(a.host, "api.obsidian.md");
    EXPECT_EQ(a.port, 443);
    EXPECT_EQ(a.target, "/user/signin?x=1");
    EXPECT_TRUE(a.secure());
    EXPECT_EQ(a.authority(), "api.obsidian.md");

    const Url b = Url::parse("ws://127.0.0.1:18443");
    EXPECT_EQ(b.port, 18443);
    EXPECT_EQ(b.target, "/");
    EXPECT_FALSE(b.secure());
    EXPECT_EQ(b.authority(), "127.0.0.1:18443");

    const Url c = Url::parse("HTTPS://[2001:db8::1]:8443?q");
    EXPECT_EQ(c.scheme, "https");
    EXPECT_EQ(c.host, "2001:db8::1");
    EXPECT_EQ(c.target, "/?q");
    EXPECT_EQ(c.authority(), "[2001:db8::1]:8443");
}

TEST(Url, PlainTextOnlyToLoopback) {
    EXPECT_NO_THROW(Url::parse("http://localhost:9000/x"));
    EXPECT_NO_THROW(Url::parse("http://[::1]:9000/x"));
    EXPECT_EQ(test::error_kind_of([] { Url::parse("http://api.obsidian.md/"); }),
              ErrorKind::config);
    EXPECT_EQ(test::error_kind_of([] { Url::parse("ws://sync-1.obsidian.md"); }),
              ErrorKind::config);
    EXPECT_EQ(test::error_kind_of([] { Url::parse("http://127.0.0.2/"); }), ErrorKind::config);
}

TEST(Url, RejectsMalformedUrls) {
    for (const char* bad :
         {"api.obsidian.md", "ftp://x/", "https://", "https://:443/", "https://host:0/",
          "https://host:65536/", "https://host:12ab/", "https://user:pw@host/", "https://[::1/"}) {
        EXPECT_EQ(test::error_kind_of([&] { Url::parse(bad); }), ErrorKind::config) << bad;
    }
}

}  // namespace
}  // namespace obsync::net
