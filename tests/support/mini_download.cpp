#include "support/mini_download.hpp"

#include <chrono>
#include <fstream>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "crypto/sha256.hpp"
#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "obsidian/api.hpp"
#include "obsidian/sync_session.hpp"
#include "support/run_coro.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"

namespace obsync::test {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

fs::path safe_target(const fs::path& dest, const std::string& path) {
    if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos) {
        throw Error(ErrorKind::bad_input, "unsafe path in vault");
    }
    std::size_t start = 0;
    for (;;) {
        const auto end = path.find('/', start);
        const std::string segment = path.substr(start, end - start);
        if (segment.empty() || segment == "." || segment == "..") {
            throw Error(ErrorKind::bad_input, "unsafe path in vault: " + path);
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return dest / path;
}

void set_mtime(const fs::path& file, long long mtime_ms) {
    using namespace std::chrono;
    const auto system = system_clock::time_point(milliseconds(mtime_ms));
    fs::last_write_time(
        file, fs::file_time_type::clock::now() +
                  duration_cast<fs::file_time_type::duration>(system - system_clock::now()));
}

}  // namespace

DownloadResult download_vault(const DownloadRequest& request) {
    asio::io_context io;
    net::HttpClient http(io.get_executor());
    obsidian::Api api(http, request.api_url);
    DownloadResult result;

    long long version = 0;
    bool initial = true;
    if (request.state_file && fs::exists(*request.state_file)) {
        std::ifstream in(*request.state_file);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        const auto state = boost::json::parse(text).as_object();
        version = state.at("version").as_int64();
        initial = false;
    }

    run_coro(
        io,
        [&]() -> asio::awaitable<void> {
            const obsidian::Account account =
                co_await api.signin(request.email, request.password, "");
            const auto vaults = co_await api.list_vaults(account.token);
            const obsidian::VaultInfo vault = obsidian::find_vault(vaults, request.vault);
            const std::string password = vault.managed_password
                                             ? *vault.managed_password
                                             : request.vault_password.value_or("");
            const crypto::VaultCipher cipher = crypto::VaultCipher::from_password(
                password, vault.salt,
                crypto::encryption_version_from_int(vault.encryption_version));
            co_await api.check_access(account.token, vault, cipher.keyhash());

            const obsidian::SessionTarget target{vault.host, vault.id, account.token};
            const obsidian::SessionOptions options;
            auto session =
                co_await obsidian::SyncSession::connect(io.get_executor(), target, cipher, options);
            const obsidian::ChangeSet changes = co_await session->init(version, initial);

            // Only the newest record of each path matters in one batch.
            std::map<std::string, std::int64_t> newest;
            for (const auto& record : changes.records) {
                if (!record.error.empty()) {
                    throw Error(ErrorKind::crypto, record.error);
                }
                newest[record.path] = record.uid;
            }
            fs::create_directories(request.dest);
            for (const auto& record : changes.records) {
                if (newest[record.path] != record.uid) {
                    continue;
                }
                const fs::path target_path = safe_target(request.dest, record.path);
                if (record.deleted) {
                    if (!initial && fs::exists(target_path) &&
                        (!fs::is_directory(target_path) || fs::is_empty(target_path))) {
                        fs::remove(target_path);
                        ++result.removed;
                    }
                    continue;
                }
                if (record.folder) {
                    fs::create_directories(target_path);
                    ++result.folders_created;
                    continue;
                }
                fs::create_directories(target_path.parent_path());
                const fs::path temp = target_path.string() + ".obsync-tmp";
                crypto::BlobDecryptor decryptor = cipher.content_decryptor();
                crypto::Sha256 hasher;
                {
                    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
                    co_await session->pull(
                        record.uid, [&](ByteView piece) -> asio::awaitable<void> {
                            const ByteView plain = decryptor.update(piece);
                            hasher.update(plain);
                            out.write(reinterpret_cast<const char*>(plain.data()),
                                      static_cast<std::streamsize>(plain.size()));
                            co_return;
                        });
                    decryptor.finish();
                }
                if (to_hex(hasher.finish()) != record.hash) {
                    fs::remove(temp);
                    throw Error(ErrorKind::crypto, "content hash mismatch for " + record.path);
                }
                fs::rename(temp, target_path);
                set_mtime(target_path, record.mtime);
                ++result.files_written;
            }
            co_await session->close();
            result.version = changes.version;
        }(),
        std::chrono::seconds(600));

    if (request.state_file) {
        std::ofstream out(*request.state_file, std::ios::trunc);
        out << R"({"version":)" << result.version << "}";
    }
    return result;
}

}  // namespace obsync::test
