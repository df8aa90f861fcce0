#include "sink/local_claim.hpp"

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include <boost/json.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/backup_marker.hpp"
#include "sink/posix_dir.hpp"
#include "sink/unique_fd.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;

const std::string k_meta_dir(sync::k_backup_meta_dir);
const std::string k_marker_suffix = "/" + k_meta_dir + "/" + k_backup_marker_name;

// The flock dies with the descriptor, and with the process: nothing to renew, nothing to expire.
class LocalLock final : public sync::DestinationLock {
public:
    explicit LocalLock(UniqueFd fd) : m_fd(std::move(fd)) {}

    boost::asio::awaitable<void> renew(std::chrono::seconds) override { co_return; }
    boost::asio::awaitable<void> release() override {
        m_fd.reset();
        co_return;
    }

private:
    UniqueFd m_fd;
};

// nullopt only when the file does not exist: one that cannot be read (a symbolic link, no
// permission) reads as "" and so still counts as present.
std::optional<std::string> read_small_file(int dir, const char* name) {
    const int fd = ::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        return std::string();
    }
    const UniqueFd file(fd);
    std::string text(4096, '\0');
    const ssize_t n = ::pread(file.get(), text.data(), text.size(), 0);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return text;
}

std::string describe_vault(const BackupMarker& marker) {
    if (marker.vault_id.empty()) {
        return "another vault";
    }
    return "vault \"" + marker.vault_name + "\" (" + marker.vault_id + ")";
}

// A backup above the destination: writing here would put files into that backup's tree, where
// its --full runs and restores would meet them.
void refuse_inside_other_backup(const std::string& root) {
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(root, ec);
    if (ec) {
        fail_at(ErrorKind::storage, root, ec.message());
    }
    for (fs::path dir = real.parent_path(); !dir.empty(); dir = dir.parent_path()) {
        const fs::path marker = dir / k_meta_dir / k_backup_marker_name;
        struct stat st {};
        if (::stat(marker.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            const int dir_fd =
                ::open((dir / k_meta_dir).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            BackupMarker found;
            if (dir_fd >= 0) {
                const UniqueFd meta(dir_fd);
                found = parse_backup_marker(
                    read_small_file(meta.get(), k_backup_marker_name).value_or(""));
            }
            throw Error(ErrorKind::config, root + " lies inside the backup at " + dir.string() +
                                               " (" + describe_vault(found) +
                                               "): choose a destination outside it");
        }
        if (dir == dir.root_path()) {
            break;
        }
    }
}

// A backup below the destination: a --full run here would treat its files as extras.
void refuse_around_other_backup(int root_fd, const std::string& root) {
    const int copy = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        fail_errno(root, errno);
    }
    std::optional<std::string> nested;
    walk_files(
        UniqueFd(copy), "",
        [&nested](int, const std::string&, const std::string& path) {
            if (!nested && path.size() > k_marker_suffix.size() &&
                path.ends_with(k_marker_suffix)) {
                nested = path.substr(0, path.size() - k_marker_suffix.size());
            }
        },
        [&root](std::string_view path) { return root + "/" + std::string(path); });
    if (nested) {
        throw Error(ErrorKind::config, root + " contains another backup, at " + root + "/" +
                                           *nested +
                                           ": choose a destination that does not hold it");
    }
}

void write_marker(int meta_fd, const std::string& where, const sync::BackupIdentity& backup) {
    const std::string text = backup_marker_document(backup);
    const std::string temp = std::string(k_backup_marker_name) + ".tmp";
    const int fd = ::openat(meta_fd, temp.c_str(),
                            O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        fail_errno(where, errno);
    }
    const UniqueFd file(fd);
    if (::write(file.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(file.get()) != 0 ||
        ::renameat(meta_fd, temp.c_str(), meta_fd, k_backup_marker_name) != 0) {
        fail_errno(where, errno);
    }
}

}  // namespace

std::unique_ptr<sync::DestinationLock> claim_local_dir(const std::string& root,
                                                       const sync::BackupIdentity& backup) {
    // Checked before anything is created, so a refused run leaves no trace inside the other
    // backup (not even the destination folder).
    refuse_inside_other_backup(root);
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec && ec != std::errc::file_exists) {
        fail_at(ErrorKind::storage, root, ec.message());
    }
    const int root_raw = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_raw < 0) {
        fail_errno(root, errno);
    }
    const UniqueFd root_fd(root_raw);
    // Whose backup this is, read before anything is created: a refused run leaves nothing in a
    // folder that holds another backup. (A second backup created below this one in the instant
    // between this look and the lock is not caught: a race between two first runs.)
    const int meta_raw = ::openat(root_fd.get(), k_meta_dir.c_str(),
                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    std::optional<std::string> marker_text;
    if (meta_raw >= 0) {
        const UniqueFd existing(meta_raw);
        marker_text = read_small_file(existing.get(), k_backup_marker_name);
    }
    const auto refuse_other_vault = [&](const std::string& text) {
        check_backup_marker(parse_backup_marker(text), backup, root);
    };
    if (marker_text) {
        refuse_other_vault(*marker_text);
    } else {
        refuse_around_other_backup(root_fd.get(), root);
    }

    const std::string meta_where = root + "/" + k_meta_dir;
    const UniqueFd meta = open_dir(root_fd.get(), k_meta_dir, true, meta_where);
    const std::string lock_where = meta_where + "/lock";
    const int lock_raw =
        ::openat(meta.get(), "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (lock_raw < 0) {
        fail_errno(lock_where, errno);
    }
    UniqueFd lock(lock_raw);
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            fail_errno(lock_where, errno);
        }
        std::string holder = read_small_file(meta.get(), "lock").value_or("");
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) {
            holder.pop_back();
        }
        throw Error(ErrorKind::busy, root + " is being written by another run" +
                                         (holder.empty() ? std::string() : " (" + holder + ")") +
                                         "; try again when it has finished");
    }
    // Who holds it, for the message of a run that finds it held. Best effort.
    const std::string holder = backup.owner + ", since " + iso8601_utc(epoch_ms()) + "\n";
    if (::ftruncate(lock.get(), 0) == 0) {
        [[maybe_unused]] const ssize_t written =
            ::pwrite(lock.get(), holder.data(), holder.size(), 0);
    }
    // Read again under the lock: another first run may have marked the folder meanwhile.
    if (const auto now = read_small_file(meta.get(), k_backup_marker_name)) {
        refuse_other_vault(*now);
    } else {
        write_marker(meta.get(), meta_where + "/" + k_backup_marker_name, backup);
    }
    return std::make_unique<LocalLock>(std::move(lock));
}

}  // namespace obsync::sink
