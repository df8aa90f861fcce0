#include "obsidian/sync_session.hpp"

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "crypto/sha256.hpp"
#include "crypto/vault_cipher.hpp"
#include "obsidian/vault.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "support/test_util.hpp"

namespace obsync::obsidian {
namespace {

namespace asio = boost::asio;
using test::WsAction;
using namespace std::chrono_literals;

class SyncSessionTest : public ::testing::Test {
public:
    asio::io_context io;
    const crypto::VaultCipher cipher{crypto::Key32(Bytes(32, 7)), "0011223344556677",
                                     crypto::EncryptionVersion::v3};
    SessionOptions options = [] {
        SessionOptions o;
        o.request_timeout = 2s;
        o.silence_limit = 3s;
        o.ping_after = 1s;
        return o;
    }();

    std::string push(std::int64_t uid, const std::string& path, const std::string& content,
                     bool deleted = false) const {
        boost::json::object p;
        p["op"] = "push";
        p["path"] = cipher.encode(path);
        p["hash"] = deleted ? "" : cipher.encode(crypto::sha256_hex(as_bytes(content)));
        p["size"] = content.empty() ? 0 : content.size() + 28;
        p["ctime"] = 1700000000000;
        p["mtime"] = 1700000001000 + uid;
        p["folder"] = false;
        p["deleted"] = deleted;
        p["device"] = "devA";
        p["user"] = 1;
        p["uid"] = uid;
        return boost::json::serialize(p);
    }

    static bool is_op(const std::string& message, std::string_view op) {
        return message.find("\"op\":\"" + std::string(op) + "\"") != std::string::npos;
    }

    // Runs `body` against a server that answers init with `init_reply` and sends its own
    // actions for every later message.
    template <typename Body>
    void with_server(std::vector<WsAction> init_reply,
                     std::function<std::vector<WsAction>(const std::string&, bool)> later,
                     Body body) {
        test::ScriptedWsServer server(io, [&](const std::string& message, bool binary) {
            if (!binary && is_op(message, "init")) {
                return init_reply;
            }
            return later(message, binary);
        });
        SessionTarget target{server.host(), "vault1", "secret-token"};
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            auto session =
                co_await SyncSession::connect(io.get_executor(), target, cipher, options);
            co_await body(*session);
        }());
    }

    static std::vector<WsAction> nothing(const std::string&, bool) { return {}; }
};

TEST_F(SyncSessionTest, InitCollectsDecodedRecordsUntilReady) {
    with_server({WsAction::text(R"({"op":"pong"})"),
                 WsAction::text(R"({"res":"ok","perFileMax":1000,"userId":1})"),
                 WsAction::text(push(3, "Notes/a.md", "hello")),
                 WsAction::text(push(5, "Attachments/b.png", "")),
                 WsAction::text(R"({"op":"ready","version":9})")},
                nothing, [&](SyncSession& session) -> asio::awaitable<void> {
                    const ChangeSet changes = co_await session.init(0, true);
                    EXPECT_EQ(changes.per_file_max, 1000);
                    EXPECT_EQ(changes.version, 9);
                    EXPECT_EQ(changes.records.size(), 2U);
                    EXPECT_EQ(changes.records[0].path, "Notes/a.md");
                    EXPECT_EQ(changes.records[0].hash, crypto::sha256_hex(as_bytes("hello")));
                    EXPECT_EQ(changes.records[0].mtime, 1700000001003);
                    EXPECT_EQ(changes.records[1].path, "Attachments/b.png");
                    EXPECT_TRUE(changes.records[1].error.empty());
                });
}

TEST_F(SyncSessionTest, InitSendsTheProtocolFields) {
    std::string seen;
    test::ScriptedWsServer server(io, [&](const std::string& message, bool) {
        seen = message;
        return std::vector<WsAction>{WsAction::text(R"({"res":"ok"})"),
                                     WsAction::text(R"({"op":"ready","version":7})")};
    });
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        // A named target: g++ 12 mishandles braced temporaries inside co_await expressions.
        const SessionTarget target{server.host(), "vault1", "tok"};
        auto session = co_await SyncSession::connect(io.get_executor(), target, cipher, options);
        const ChangeSet changes = co_await session->init(7, false);
        EXPECT_EQ(changes.version, 7);
        EXPECT_EQ(changes.per_file_max, 208666624);  // §4.2 default
    }());
    const auto init = boost::json::parse(seen).as_object();
    EXPECT_EQ(init.at("op").as_string(), "init");
    EXPECT_EQ(init.at("token").as_string(), "tok");
    EXPECT_EQ(init.at("id").as_string(), "vault1");
    EXPECT_EQ(init.at("keyhash").as_string(), cipher.keyhash());
    EXPECT_EQ(init.at("version").as_int64(), 7);
    EXPECT_EQ(init.at("initial").as_bool(), false);
    EXPECT_EQ(init.at("encryption_version").as_int64(), 3);
}

TEST_F(SyncSessionTest, UndecodableRecordIsKeptWithAnError) {
    const crypto::VaultCipher other(crypto::Key32(Bytes(32, 8)), "0011223344556677",
                                    crypto::EncryptionVersion::v3);
    std::string foreign = push(4, "x.md", "x");
    const std::string good_path = cipher.encode("x.md");
    foreign.replace(foreign.find(good_path), good_path.size(), other.encode("x.md"));
    with_server({WsAction::text(R"({"res":"ok"})"), WsAction::text(push(2, "a.md", "a")),
                 WsAction::text(foreign), WsAction::text(R"({"op":"ready","version":4})")},
                nothing, [&](SyncSession& session) -> asio::awaitable<void> {
                    const ChangeSet changes = co_await session.init(0, true);
                    EXPECT_EQ(changes.records.size(), 2U);
                    EXPECT_TRUE(changes.records[0].error.empty());
                    EXPECT_EQ(changes.records[1].uid, 4);
                    EXPECT_TRUE(changes.records[1].path.empty());
                    EXPECT_NE(changes.records[1].error.find("record 4"), std::string::npos);
                });
}

ErrorKind init_failure(SyncSessionTest& t, std::vector<WsAction> reply) {
    ErrorKind kind{};
    bool thrown = false;
    t.with_server(std::move(reply), SyncSessionTest::nothing,
                  [&](SyncSession& session) -> asio::awaitable<void> {
                      try {
                          co_await session.init(0, true);
                      } catch (const Error& e) {
                          kind = e.kind();
                          thrown = true;
                          EXPECT_EQ(std::string(e.what()).find("secret-token"), std::string::npos);
                      }
                  });
    EXPECT_TRUE(thrown);
    return kind;
}

// Keyhash only (sync --encrypted): records keep their encoded path and hash, and one whose form
// no encode() gives (odd or non-hex, a path no longer than the tag, a hash of another length) is
// kept with an error, as an undecodable one is with the key.
TEST_F(SyncSessionTest, AKeyhashOnlySessionKeepsTheEncodedFormsAndChecksTheirShape) {
    const crypto::VaultCipher keyhash_only =
        crypto::VaultCipher::keyhash_only(cipher.keyhash(), crypto::EncryptionVersion::v3);
    const auto with_field = [&](std::int64_t uid, const std::string& field,
                                const std::string& value) {
        boost::json::object p = boost::json::parse(push(uid, "n.md", "n")).as_object();
        p[field] = value;
        return boost::json::serialize(p);
    };
    const std::string path = cipher.encode("Notes/a.md");
    const std::vector<std::string> pushes = {
        push(2, "Notes/a.md", "hello"),
        push(3, "gone.md", "", true),
        with_field(4, "path", path.substr(1)),                 // odd length
        with_field(5, "path", "Z" + path.substr(1)),           // not lowercase hex
        with_field(6, "path", std::string(32, 'a')),           // only a tag's worth
        with_field(7, "hash", cipher.encode("not a sha256")),  // another length
        with_field(8, "hash", ""),                             // taken as with the key
    };
    test::ScriptedWsServer server(io, [&](const std::string&, bool) {
        std::vector<WsAction> out = {WsAction::text(R"({"res":"ok"})")};
        for (const std::string& p : pushes) {
            out.push_back(WsAction::text(p));
        }
        out.push_back(WsAction::text(R"({"op":"ready","version":8})"));
        return out;
    });
    ChangeSet changes;
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        const SessionTarget target{server.host(), "vault1", "tok"};
        auto session =
            co_await SyncSession::connect(io.get_executor(), target, keyhash_only, options);
        changes = co_await session->init(0, true);
    }());
    ASSERT_EQ(changes.records.size(), pushes.size());
    EXPECT_EQ(changes.records[0].path, path);
    EXPECT_EQ(changes.records[0].hash, cipher.encode(crypto::sha256_hex(as_bytes("hello"))));
    EXPECT_TRUE(changes.records[0].error.empty());
    EXPECT_EQ(changes.records[1].path, cipher.encode("gone.md"));
    EXPECT_TRUE(changes.records[1].error.empty());
    for (std::size_t i = 2; i < 6; ++i) {
        EXPECT_NE(changes.records[i].error.find("record " + std::to_string(i + 2)),
                  std::string::npos)
            << i;
    }
    EXPECT_TRUE(changes.records[6].error.empty());
    EXPECT_TRUE(changes.records[6].hash.empty());
}

TEST_F(SyncSessionTest, InitRefusalsAreTyped) {
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"res":"err","msg":"Vault not found."})")}),
              ErrorKind::not_found);
    EXPECT_EQ(
        init_failure(
            *this, {WsAction::text(
                       R"({"res":"err","msg":"Your subscription to Obsidian Sync has expired"})")}),
        ErrorKind::auth);
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"status":"err","msg":"Invalid key"})")}),
              ErrorKind::auth);
}

TEST_F(SyncSessionTest, MalformedInitRepliesAreProtocolErrors) {
    EXPECT_EQ(init_failure(*this, {WsAction::binary("ok")}), ErrorKind::protocol);
    EXPECT_EQ(init_failure(*this, {WsAction::text("{not json")}), ErrorKind::protocol);
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"hello":1})")}), ErrorKind::protocol);
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"res":"ok","perFileMax":-1})")}),
              ErrorKind::protocol);
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"res":"ok"})"), WsAction::binary("zz")}),
              ErrorKind::protocol);
    EXPECT_EQ(
        init_failure(*this, {WsAction::text(R"({"res":"ok"})"), WsAction::text(push(5, "a", "a")),
                             WsAction::text(push(4, "b", "b"))}),
        ErrorKind::protocol);
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"res":"ok"})"),
                                   WsAction::text(R"({"op":"push","path":"00"})")}),
              ErrorKind::protocol);
    EXPECT_EQ(init_failure(*this, {WsAction::text(R"({"res":"ok"})"), WsAction::drop()}),
              ErrorKind::network);
}

// Server side of a pull: header then the given pieces, optionally a push in between.
std::function<std::vector<WsAction>(const std::string&, bool)> pull_reply(
    std::string header, std::vector<WsAction> frames) {
    return
        [header = std::move(header), frames = std::move(frames)](const std::string& message, bool) {
            if (message.find("\"pull\"") == std::string::npos) {
                return std::vector<WsAction>{};
            }
            std::vector<WsAction> actions{WsAction::text(header)};
            actions.insert(actions.end(), frames.begin(), frames.end());
            return actions;
        };
}

const std::vector<WsAction> k_ok_empty = {WsAction::text(R"({"res":"ok"})"),
                                          WsAction::text(R"({"op":"ready","version":1})")};

TEST_F(SyncSessionTest, PullAssemblesPiecesAndRoutesPushesBetweenThem) {
    with_server(k_ok_empty,
                pull_reply(R"({"size":10,"pieces":3,"deleted":false})",
                           {WsAction::binary("abcd"), WsAction::text(push(8, "live.md", "l")),
                            WsAction::text(R"({"op":"pong"})"), WsAction::binary("efgh"),
                            WsAction::binary("ij")}),
                [&](SyncSession& session) -> asio::awaitable<void> {
                    co_await session.init(0, true);
                    std::string assembled;
                    const auto result =
                        co_await session.pull(8, [&](ByteView piece) -> asio::awaitable<void> {
                            assembled += as_chars(piece);
                            co_return;
                        });
                    EXPECT_EQ(assembled, "abcdefghij");
                    EXPECT_EQ(result.size, 10U);
                    EXPECT_EQ(result.pieces, 3U);
                    const auto live = session.take_live_changes();
                    EXPECT_EQ(live.size(), 1U);
                    EXPECT_EQ(live.empty() ? "" : live[0].path, "live.md");
                    // The session is still in step: a second pull works.
                    assembled.clear();
                    co_await session.pull(9, [&](ByteView piece) -> asio::awaitable<void> {
                        assembled += as_chars(piece);
                        co_return;
                    });
                    EXPECT_EQ(assembled, "abcdefghij");
                });
}

TEST_F(SyncSessionTest, OnSentRunsOnceTheRequestIsOutAndBeforeTheReplyIsRead) {
    bool server_saw_pull = false;
    const auto reply =
        pull_reply(R"({"size":4,"pieces":1,"deleted":false})", {WsAction::binary("abcd")});
    with_server(
        k_ok_empty,
        [&](const std::string& message, bool binary) {
            server_saw_pull = server_saw_pull || is_op(message, "pull");
            return reply(message, binary);
        },
        [&](SyncSession& session) -> asio::awaitable<void> {
            co_await session.init(0, true);
            std::string assembled;
            bool server_saw_pull_in_on_sent = false;
            std::size_t pieces_before_on_sent_ended = 1;
            const SyncSession::SentHandler on_sent = [&]() -> asio::awaitable<void> {
                // The request is on the wire: the server reads it while we wait here.
                asio::steady_timer timer(co_await asio::this_coro::executor);
                for (int i = 0; i < 200 && !server_saw_pull; ++i) {
                    timer.expires_after(10ms);
                    co_await timer.async_wait(asio::use_awaitable);
                }
                server_saw_pull_in_on_sent = server_saw_pull;
                pieces_before_on_sent_ended = assembled.size();
            };
            co_await session.pull(
                1,
                [&](ByteView piece) -> asio::awaitable<void> {
                    assembled += as_chars(piece);
                    co_return;
                },
                on_sent);
            EXPECT_TRUE(server_saw_pull_in_on_sent);
            EXPECT_EQ(pieces_before_on_sent_ended, 0U);
            EXPECT_EQ(assembled, "abcd");
        });
}

TEST_F(SyncSessionTest, AFailingOnSentFailsThePullAndRetiresTheSession) {
    with_server(
        k_ok_empty,
        pull_reply(R"({"size":4,"pieces":1,"deleted":false})", {WsAction::binary("abcd")}),
        [&](SyncSession& session) -> asio::awaitable<void> {
            co_await session.init(0, true);
            const SyncSession::SentHandler on_sent = []() -> asio::awaitable<void> {
                throw Error(ErrorKind::storage, "disk full");
                co_return;
            };
            int pieces = 0;
            const SyncSession::PieceHandler on_piece = [&](ByteView) -> asio::awaitable<void> {
                ++pieces;
                co_return;
            };
            std::optional<ErrorKind> first;
            try {
                co_await session.pull(1, on_piece, on_sent);
            } catch (const Error& e) {
                first = e.kind();
            }
            EXPECT_EQ(first, ErrorKind::storage);
            EXPECT_EQ(pieces, 0);
            // Its reply is still unread: the session must not be used again.
            std::optional<ErrorKind> second;
            try {
                co_await session.pull(1, on_piece);
            } catch (const Error& e) {
                second = e.kind();
            }
            EXPECT_EQ(second, ErrorKind::network);
            EXPECT_EQ(pieces, 0);
        });
}

TEST_F(SyncSessionTest, SlowCallbacksAreNotTheServerTimingOut) {
    options.request_timeout = 300ms;  // each callback below takes longer than that
    with_server(k_ok_empty,
                pull_reply(R"({"size":8,"pieces":2,"deleted":false})",
                           {WsAction::binary("abcd"), WsAction::binary("efgh")}),
                [&](SyncSession& session) -> asio::awaitable<void> {
                    co_await session.init(0, true);
                    asio::steady_timer timer(co_await asio::this_coro::executor);
                    const SyncSession::SentHandler on_sent = [&]() -> asio::awaitable<void> {
                        timer.expires_after(700ms);
                        co_await timer.async_wait(asio::use_awaitable);
                    };
                    std::string assembled;
                    const SyncSession::PieceHandler on_piece =
                        [&](ByteView piece) -> asio::awaitable<void> {
                        timer.expires_after(700ms);
                        co_await timer.async_wait(asio::use_awaitable);
                        assembled += as_chars(piece);
                    };
                    co_await session.pull(1, on_piece, on_sent);
                    EXPECT_EQ(assembled, "abcdefgh");
                });
}

TEST_F(SyncSessionTest, EmptyFilePullHasNoPieces) {
    with_server(k_ok_empty, pull_reply(R"({"size":0,"pieces":0,"deleted":false})", {}),
                [&](SyncSession& session) -> asio::awaitable<void> {
                    co_await session.init(0, true);
                    int calls = 0;
                    const auto result =
                        co_await session.pull(1, [&](ByteView) -> asio::awaitable<void> {
                            ++calls;
                            co_return;
                        });
                    EXPECT_EQ(result.size, 0U);
                    EXPECT_EQ(calls, 0);
                });
}

ErrorKind pull_failure(SyncSessionTest& t, std::string header, std::vector<WsAction> frames,
                       std::chrono::milliseconds* elapsed = nullptr) {
    ErrorKind kind{};
    bool thrown = false;
    t.with_server(k_ok_empty, pull_reply(std::move(header), std::move(frames)),
                  [&](SyncSession& session) -> asio::awaitable<void> {
                      co_await session.init(0, true);
                      const auto start = std::chrono::steady_clock::now();
                      try {
                          co_await session.pull(
                              1, [](ByteView) -> asio::awaitable<void> { co_return; });
                      } catch (const Error& e) {
                          kind = e.kind();
                          thrown = true;
                      }
                      if (elapsed != nullptr) {
                          *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start);
                      }
                  });
    EXPECT_TRUE(thrown);
    return kind;
}

TEST_F(SyncSessionTest, PullSizeAndPieceMismatchesAreProtocolErrors) {
    // Fewer bytes than announced.
    EXPECT_EQ(pull_failure(*this, R"({"size":10,"pieces":2})",
                           {WsAction::binary("abc"), WsAction::binary("def")}),
              ErrorKind::protocol);
    // More bytes than announced.
    EXPECT_EQ(pull_failure(*this, R"({"size":4,"pieces":2})",
                           {WsAction::binary("abc"), WsAction::binary("def")}),
              ErrorKind::protocol);
    // Impossible headers.
    EXPECT_EQ(pull_failure(*this, R"({"size":5,"pieces":0})", {}), ErrorKind::protocol);
    EXPECT_EQ(pull_failure(*this, R"({"size":-1,"pieces":1})", {}), ErrorKind::protocol);
    EXPECT_EQ(pull_failure(*this, R"({"pieces":1})", {}), ErrorKind::protocol);
    // A binary frame instead of the header, and a stray text message between pieces.
    EXPECT_EQ(pull_failure(*this, "{bad json", {}), ErrorKind::protocol);
    EXPECT_EQ(pull_failure(*this, R"({"size":6,"pieces":2})",
                           {WsAction::binary("abc"), WsAction::text(R"({"res":"ok"})")}),
              ErrorKind::protocol);
}

TEST_F(SyncSessionTest, PullRefusalsAreNotFoundAndKeepTheSessionUsable) {
    int pulls = 0;
    with_server(
        k_ok_empty,
        [&](const std::string& message, bool) {
            if (message.find("\"pull\"") == std::string::npos) {
                return std::vector<WsAction>{};
            }
            ++pulls;
            if (pulls == 1) {
                return std::vector<WsAction>{WsAction::text(R"({"err":"File not found"})")};
            }
            if (pulls == 2) {
                return std::vector<WsAction>{
                    WsAction::text(R"({"size":0,"pieces":0,"deleted":true})")};
            }
            return std::vector<WsAction>{WsAction::text(R"({"size":1,"pieces":1})"),
                                         WsAction::binary("z")};
        },
        [&](SyncSession& session) -> asio::awaitable<void> {
            co_await session.init(0, true);
            for (int i = 0; i < 2; ++i) {
                try {
                    co_await session.pull(1, [](ByteView) -> asio::awaitable<void> { co_return; });
                    ADD_FAILURE() << "pull " << i << " succeeded";
                } catch (const Error& e) {
                    EXPECT_EQ(e.kind(), ErrorKind::not_found);
                }
            }
            std::string data;
            co_await session.pull(1, [&](ByteView p) -> asio::awaitable<void> {
                data += as_chars(p);
                co_return;
            });
            EXPECT_EQ(data, "z");
        });
}

TEST_F(SyncSessionTest, ConnectionClosedMidPullIsANetworkError) {
    std::chrono::milliseconds elapsed{};
    EXPECT_EQ(pull_failure(*this, R"({"size":10,"pieces":2})",
                           {WsAction::binary("abcde"), WsAction::drop()}, &elapsed),
              ErrorKind::network);
    EXPECT_LT(elapsed, 1000ms);
}

TEST_F(SyncSessionTest, SilentServerTimesOutInsteadOfHanging) {
    options.request_timeout = 300ms;
    options.ping_after = 100ms;
    std::chrono::milliseconds elapsed{};
    EXPECT_EQ(
        pull_failure(*this, R"({"size":10,"pieces":2})", {WsAction::binary("abcde")}, &elapsed),
        ErrorKind::network);
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 2000ms);
}

// A caller's deadline (SessionOptions::cut_at) ends a pull the server holds, long before the
// request timeout would.
TEST_F(SyncSessionTest, AStuckPullFailsAtCutAt) {
    const auto start = std::chrono::steady_clock::now();
    options.cut_at = start + 400ms;
    with_server(k_ok_empty, nothing, [&](SyncSession& session) -> asio::awaitable<void> {
        co_await session.init(0, true);
        try {
            co_await session.pull(1, [](ByteView) -> asio::awaitable<void> { co_return; });
            ADD_FAILURE() << "the pull outlived cut_at";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::network);
        }
    });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, 400ms);
    EXPECT_LT(elapsed, 1500ms);
}

TEST_F(SyncSessionTest, ACutAtAlreadyPastConnectsToNothing) {
    options.cut_at = std::chrono::steady_clock::now() - 1ms;
    int connections = 0;
    try {
        with_server(k_ok_empty, nothing, [&](SyncSession&) -> asio::awaitable<void> {
            ++connections;
            co_return;
        });
        ADD_FAILURE() << "connected past cut_at";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::network);
    }
    EXPECT_EQ(connections, 0);
}

TEST_F(SyncSessionTest, PingsAnIdleServerAndSurvivesSlowReplies) {
    options.ping_after = 100ms;
    options.request_timeout = 3s;
    int pings = 0;
    with_server(
        k_ok_empty,
        [&](const std::string& message, bool) {
            if (message.find("\"ping\"") != std::string::npos) {
                ++pings;
                return std::vector<WsAction>{WsAction::text(R"({"op":"pong"})")};
            }
            return std::vector<WsAction>{WsAction::wait(700ms),
                                         WsAction::text(R"({"size":1,"pieces":1})"),
                                         WsAction::binary("q")};
        },
        [&](SyncSession& session) -> asio::awaitable<void> {
            co_await session.init(0, true);
            std::string data;
            co_await session.pull(1, [&](ByteView p) -> asio::awaitable<void> {
                data += as_chars(p);
                co_return;
            });
            EXPECT_EQ(data, "q");
        });
    EXPECT_GE(pings, 1);
}

TEST_F(SyncSessionTest, SessionIsUnusableAfterAnError) {
    with_server(
        k_ok_empty, pull_reply(R"({"size":4,"pieces":1})", {WsAction::binary("abcdef")}),
        [&](SyncSession& session) -> asio::awaitable<void> {
            co_await session.init(0, true);
            EXPECT_THROW(
                co_await session.pull(1, [](ByteView) -> asio::awaitable<void> { co_return; }),
                Error);
            try {
                co_await session.pull(1, [](ByteView) -> asio::awaitable<void> { co_return; });
                ADD_FAILURE() << "a broken session accepted a request";
            } catch (const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::network);
            }
        });
}

TEST(SyncUrl, FollowsTheOfficialClientsHostRules) {
    EXPECT_EQ(sync_url("127.0.0.1:1234"), "ws://127.0.0.1:1234");
    EXPECT_EQ(sync_url("sync-12.obsidian.md"), "wss://sync-12.obsidian.md");
    EXPECT_EQ(sync_url("sync-1.obsidian.md:8443"), "wss://sync-1.obsidian.md:8443");
    EXPECT_EQ(test::error_kind_of([] { sync_url("evil.example.com"); }), ErrorKind::protocol);
    EXPECT_EQ(test::error_kind_of([] { sync_url("obsidian.md.evil.com"); }), ErrorKind::protocol);
}

}  // namespace
}  // namespace obsync::obsidian
