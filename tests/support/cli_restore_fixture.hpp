#pragma once

// What the restore tests share, plaintext (cli_restore_test) and encrypted
// (encrypted_restore_test): a vault changed between backups on the fake server, the corpus kept
// in step with it, copies of it at chosen moments, and the tree a restore wrote.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <sys/stat.h>

#include "support/cli_aws_fixture.hpp"
#include "util/clock.hpp"

namespace obsync::cli_aws {

// Every file and folder below `root` (relative), files with their bytes; .obsync/ left out.
inline std::map<std::string, std::optional<std::string>> tree_of(const fs::path& root) {
    std::map<std::string, std::optional<std::string>> out;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(entry.path(), root).string();
        if (rel == ".obsync" || rel.starts_with(".obsync/")) {
            continue;
        }
        out[rel] = entry.is_directory() ? std::nullopt
                                        : std::optional<std::string>(read_file(entry.path()));
    }
    return out;
}

inline std::int64_t mtime_ms(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

class CliRestoreFixture : public CliAwsTest {
public:
    // A copy of the corpus as it is now, to compare a restore `--at` this moment with.
    fs::path keep(const std::string& name) {
        const fs::path copy = work.path() / name;
        fs::copy(corpus, copy, fs::copy_options::recursive);
        return copy;
    }

    // A moment strictly between two backups: S3 keeps LastModified in whole seconds.
    static std::string moment() {
        using namespace std::chrono_literals;
        std::this_thread::sleep_for(1100ms);
        const std::string at = iso8601_utc_ms(epoch_ms());
        std::this_thread::sleep_for(1100ms);
        return at;
    }

    // A change on the server, made in the corpus too.
    void inject(const std::string& path, const std::string& content) {
        const fs::path file = work.path() / "inject.tmp";
        write_file(file, content);
        server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path", path,
                                 "--content-file", file.string()});
        write_file(corpus / path, content);
    }

    void inject_folder(const std::string& path) {
        server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path", path,
                                 "--folder"});
        fs::create_directories(corpus / path);
    }

    void remove(const std::string& path) {
        server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path", path,
                                 "--deleted"});
        fs::remove(corpus / path);
    }
};

}  // namespace obsync::cli_aws
