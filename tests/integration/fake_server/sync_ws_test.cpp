// The WebSocket protocol of the fake server (protocol §4, §7 WebSocket), without sockets.
#include "sync_ws.hpp"

#include "fake_server_fixture.hpp"

namespace obsync::fake::test {
namespace {

namespace json = boost::json;

class SyncSessionTest : public FakeServerTest {
protected:
    SyncSessionTest() {
        m_user = m_store.accounts().ensure_user("alice@example.com");
        m_token = m_store.accounts().create_token(m_user.id);
        m_vault = make_vault(m_user.id, "V", "abcd");
        m_options.piece_size = 4;
    }

    json::object init_message(std::int64_t version, bool initial) const {
        return {{"op", "init"},      {"token", m_token},       {"id", m_vault.id},
                {"keyhash", "ABCD"}, {"version", version},     {"initial", initial},
                {"device", "dev"},   {"encryption_version", 3}};
    }

    static SyncOutput send(SyncSession& session, const json::object& message) {
        return session.on_text(json::serialize(message));
    }

    static json::object text_of(const OutFrame& frame) {
        EXPECT_EQ(frame.kind, OutFrame::Kind::text);
        return parse(frame.text);
    }

    // Runs init and returns the uids pushed before ready, checking the §4.2 framing.
    std::vector<std::int64_t> init(SyncSession& session, std::int64_t version, bool initial,
                                   std::int64_t expect_ready) {
        const SyncOutput out = send(session, init_message(version, initial));
        EXPECT_FALSE(out.close);
        EXPECT_EQ(text_of(out.reply.front()).at("res").as_string(), "ok");
        EXPECT_EQ(text_of(out.reply.front()).at("userId").as_int64(), m_user.id);
        const auto ready = text_of(out.reply.back());
        EXPECT_EQ(ready.at("op").as_string(), "ready");
        EXPECT_EQ(ready.at("version").as_int64(), expect_ready);
        std::vector<std::int64_t> uids;
        for (std::size_t i = 1; i + 1 < out.reply.size(); ++i) {
            uids.push_back(text_of(out.reply[i]).at("uid").as_int64());
        }
        return uids;
    }

    std::int64_t push_marker(SyncSession& session, const std::string& path, bool deleted) {
        const SyncOutput out = send(session, {{"op", "push"},
                                              {"path", path},
                                              {"hash", ""},
                                              {"ctime", 0},
                                              {"mtime", 0},
                                              {"folder", !deleted},
                                              {"deleted", deleted}});
        EXPECT_EQ(text_of(out.reply.at(0)).at("res").as_string(), "ok");
        EXPECT_EQ(out.broadcast.size(), 1u);
        return parse(out.broadcast.at(0)).at("uid").as_int64();
    }

    std::int64_t push_file(SyncSession& session, const std::string& path, const std::string& blob,
                           std::size_t piece) {
        const std::size_t pieces = (blob.size() + piece - 1) / piece;
        SyncOutput out = send(session, {{"op", "push"},
                                        {"path", path},
                                        {"hash", "h-" + path},
                                        {"ctime", 5},
                                        {"mtime", 7},
                                        {"folder", false},
                                        {"deleted", false},
                                        {"size", blob.size()},
                                        {"pieces", pieces}});
        for (std::size_t offset = 0; offset < blob.size(); offset += piece) {
            // Before each piece the client needs a reply other than {"res":"ok"} (§4.3).
            EXPECT_EQ(text_of(out.reply.at(0)).at("res").as_string(), "next");
            EXPECT_TRUE(out.broadcast.empty());
            out = session.on_binary(as_bytes(std::string_view(blob).substr(offset, piece)));
        }
        EXPECT_EQ(text_of(out.reply.at(0)).at("res").as_string(), "ok");
        const auto echo = parse(out.broadcast.at(0));
        EXPECT_EQ(echo.at("size").as_int64(), static_cast<std::int64_t>(blob.size()));
        EXPECT_EQ(echo.at("mtime").as_int64(), 7);
        EXPECT_EQ(echo.at("hash").as_string(), "h-" + path);
        EXPECT_EQ(echo.at("device").as_string(), "dev");
        return echo.at("uid").as_int64();
    }

    std::string pull(SyncSession& session, std::int64_t uid) {
        const SyncOutput out = send(session, {{"op", "pull"}, {"uid", uid}});
        const auto header = text_of(out.reply.at(0));
        EXPECT_EQ(header.at("pieces").to_number<std::uint64_t>() + 1, out.reply.size());
        std::string blob;
        for (std::size_t i = 1; i < out.reply.size(); ++i) {
            const OutFrame& frame = out.reply[i];
            EXPECT_EQ(frame.kind, OutFrame::Kind::blob_piece);
            EXPECT_LE(frame.length, m_options.piece_size);
            blob += read_file(frame.file).substr(frame.offset, frame.length);
        }
        EXPECT_EQ(header.at("size").to_number<std::uint64_t>(), blob.size());
        return blob;
    }

    ServerOptions m_options;
    User m_user;
    std::string m_token;
    Vault m_vault;
};

TEST_F(SyncSessionTest, RefusedInitsCloseTheConnection) {
    auto refused = [&](const json::object& message, std::string_view expected) {
        SyncSession session(m_store, m_options);
        const SyncOutput out = send(session, message);
        ASSERT_EQ(out.reply.size(), 1u);
        const auto reply = text_of(out.reply[0]);
        EXPECT_EQ(reply.at("res").as_string(), "err");
        EXPECT_NE(std::string(reply.at("msg").as_string()).find(expected), std::string::npos);
        EXPECT_TRUE(out.close);
        EXPECT_TRUE(session.vault_id().empty());
    };
    auto message = init_message(0, true);
    message["id"] = "missing";
    refused(message, "Vault not found");
    message = init_message(0, true);
    message["keyhash"] = "0000";
    refused(message, "Invalid encryption key");
    message = init_message(0, true);
    message["keyhash"] = "not hex";
    refused(message, "Invalid encryption key");
    message = init_message(0, true);
    message["token"] = "bad";
    refused(message, "Not logged in");
    message = init_message(0, true);
    message["token"] = 42;
    refused(message, "Invalid message: field 'token' is not a string");
    refused({{"op", "ping"}}, "Expected init");
    m_options.refuse_init = "Your subscription to Obsidian Sync has expired";
    refused(init_message(0, true), "subscription");

    SyncSession binary_first(m_store, m_options);
    EXPECT_TRUE(binary_first.on_binary(as_bytes("x")).close);
    SyncSession garbage_first(m_store, m_options);
    EXPECT_TRUE(garbage_first.on_text("{{{").close);
}

TEST_F(SyncSessionTest, UploadsEchoToTheSenderAndPullBackInPieces) {
    SyncSession session(m_store, m_options);
    EXPECT_TRUE(init(session, 0, true, 0).empty());
    EXPECT_EQ(push_marker(session, "folder", false), 1);
    EXPECT_EQ(push_file(session, "file", "0123456789", 3), 2);  // 4 pieces of up to 3 bytes
    EXPECT_EQ(push_file(session, "empty", "", 3), 3);           // pieces:0, stored at once
    EXPECT_EQ(pull(session, 2), "0123456789");                  // 3 frames of piece_size 4
    EXPECT_EQ(pull(session, 3), "");
    EXPECT_EQ(pull(session, 1), "");

    const auto missing = text_of(send(session, {{"op", "pull"}, {"uid", 99}}).reply.at(0));
    EXPECT_EQ(missing.at("err").as_string(), "File not found");
    EXPECT_EQ(text_of(send(session, {{"op", "ping"}}).reply.at(0)).at("op").as_string(), "pong");
    EXPECT_TRUE(text_of(send(session, {{"op", "size"}}).reply.at(0)).contains("err"));
    EXPECT_TRUE(text_of(session.on_text("not json").reply.at(0)).contains("err"));
    EXPECT_TRUE(text_of(session.on_binary(as_bytes("stray")).reply.at(0)).contains("err"));
}

TEST_F(SyncSessionTest, FieldsOfTheWrongTypeAreCleanErrors) {
    SyncSession session(m_store, m_options);
    init(session, 0, true, 0);
    auto error = [&](const json::object& message) {
        const SyncOutput out = send(session, message);
        EXPECT_TRUE(out.broadcast.empty());
        EXPECT_FALSE(out.close);
        return std::string(text_of(out.reply.at(0)).at("err").as_string());
    };
    EXPECT_EQ(error({{"op", "pull"}, {"uid", "1"}}),
              "Invalid message: field 'uid' is not an integer");
    EXPECT_EQ(error({{"op", 1}}), "Invalid message: field 'op' is not a string");
    EXPECT_EQ(error({{"op", "push"}, {"path", "p"}, {"folder", 1}}),
              "Invalid message: field 'folder' is not a boolean");
    EXPECT_EQ(error({{"op", "push"}, {"path", "p"}, {"size", 1.5}, {"pieces", 1}}),
              "Invalid message: field 'size' is not an integer");
    EXPECT_NE(std::string(text_of(session.on_text("not json").reply.at(0)).at("err").as_string())
                  .find("Invalid message: malformed JSON"),
              std::string::npos);
    // A malformed message where a piece was due discards the upload, as any other text would.
    send(session, {{"op", "push"}, {"path", "p"}, {"size", 8}, {"pieces", 2}});
    EXPECT_TRUE(text_of(session.on_text("[").reply.at(0)).contains("err"));
    EXPECT_TRUE(text_of(session.on_binary(as_bytes("12345678")).reply.at(0)).contains("err"));
    EXPECT_EQ(m_store.max_uid(m_vault.id), 0);
    // The session is still usable afterwards.
    EXPECT_EQ(push_marker(session, "folder", false), 1);
}

TEST_F(SyncSessionTest, InitialSnapshotsDropDeletedPathsIncrementalOnesDoNot) {
    {
        SyncSession writer(m_store, m_options);
        init(writer, 0, true, 0);
        push_file(writer, "a", "aaaa", 4);  // 1
        push_file(writer, "b", "bbbb", 4);  // 2
        push_file(writer, "a", "AAAA", 4);  // 3 supersedes 1
        push_marker(writer, "b", true);     // 4 deletes b
        push_marker(writer, "d", false);    // 5
    }
    SyncSession fresh(m_store, m_options);
    EXPECT_EQ(init(fresh, 0, true, 5), (std::vector<std::int64_t>{3, 5}));
    SyncSession incremental(m_store, m_options);
    EXPECT_EQ(init(incremental, 2, false, 5), (std::vector<std::int64_t>{3, 4, 5}));
    SyncSession ahead(m_store, m_options);
    EXPECT_TRUE(init(ahead, 9, false, 9).empty());  // ready never goes backwards
    const auto record = m_store.find_record(m_vault.id, 3);
    ASSERT_TRUE(record);
    EXPECT_EQ(record->ctime, 5);
    EXPECT_EQ(record->user_id, m_user.id);
}

TEST_F(SyncSessionTest, InterruptedUploadsLeaveNothingBehind) {
    {
        SyncSession session(m_store, m_options);
        init(session, 0, true, 0);
        send(session, {{"op", "push"}, {"path", "p"}, {"hash", "h"}, {"size", 8}, {"pieces", 2}});
        session.on_binary(as_bytes("1234"));
        // The client disconnects here: the session goes away mid-upload.
    }
    SyncSession session(m_store, m_options);
    init(session, 0, true, 0);
    send(session, {{"op", "push"}, {"path", "p"}, {"hash", "h"}, {"size", 8}, {"pieces", 2}});
    // A ping between pieces is answered and harmless (pings come from a timer)...
    EXPECT_EQ(text_of(send(session, {{"op", "ping"}}).reply.at(0)).at("op").as_string(), "pong");
    // ...but any other text frame where a piece was due discards the upload.
    EXPECT_TRUE(text_of(send(session, {{"op", "pull"}, {"uid", 1}}).reply.at(0)).contains("err"));
    EXPECT_TRUE(text_of(session.on_binary(as_bytes("5678")).reply.at(0)).contains("err"));
    EXPECT_EQ(m_store.max_uid(m_vault.id), 0);
    const auto blobs = m_dir / "data" / "blobs" / m_vault.id;
    EXPECT_TRUE(std::filesystem::is_empty(blobs));
}

TEST_F(SyncSessionTest, OversizedPushesAreRefused) {
    m_options.per_file_max = 10;
    SyncSession session(m_store, m_options);
    init(session, 0, true, 0);
    // 10 bytes of plaintext arrive as 38 encrypted bytes (§3.3): still allowed.
    auto out = send(session, {{"op", "push"}, {"path", "p"}, {"size", 38}, {"pieces", 1}});
    EXPECT_EQ(text_of(out.reply.at(0)).at("res").as_string(), "next");
    out = session.on_binary(as_bytes(std::string(39, 'x')));
    EXPECT_TRUE(text_of(out.reply.at(0)).contains("err"));
    out = send(session, {{"op", "push"}, {"path", "p"}, {"size", 39}, {"pieces", 1}});
    EXPECT_TRUE(text_of(out.reply.at(0)).contains("err"));
    out = send(session, {{"op", "push"}, {"path", "p"}, {"size", -1}, {"pieces", 1}});
    EXPECT_TRUE(text_of(out.reply.at(0)).contains("err"));
    out = send(session, {{"op", "push"}, {"size", 1}, {"pieces", 1}});
    EXPECT_TRUE(text_of(out.reply.at(0)).contains("err"));
    EXPECT_EQ(m_store.max_uid(m_vault.id), 0);
}

}  // namespace
}  // namespace obsync::fake::test
