#include "sink/posix_dir.hpp"

#include <cerrno>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

namespace obsync::sink {
namespace {

struct DirCloser {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

}  // namespace

void fail_at(ErrorKind kind, const std::string& location, const std::string& what) {
    throw Error(kind, location + ": " + what);
}

void fail_errno(const std::string& location, int err) {
    // A name the file system cannot hold (too long, or bytes it does not accept) will not be
    // accepted on a retry either: bad_input, so the engine refuses that record for good.
    const bool name_refused = err == ENAMETOOLONG || err == EILSEQ;
    fail_at(name_refused ? ErrorKind::bad_input : ErrorKind::storage, location,
            std::generic_category().message(err));
}

UniqueFd open_dir(int dir, const std::string& name, bool create, const std::string& location) {
    for (;;) {
        const int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            return UniqueFd(fd);
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err == ENOENT) {
            if (!create) {
                return {};
            }
            if (::mkdirat(dir, name.c_str(), 0777) != 0 && errno != EEXIST) {
                fail_errno(location, errno);
            }
            continue;
        }
        if (err == ELOOP || err == ENOTDIR) {
            struct stat st {};
            if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                fail_errno(location, errno);
            }
            if (S_ISLNK(st.st_mode)) {
                // storage, not bad_input: the link is the destination's state, which its owner
                // can fix, not something wrong with the vault's records.
                fail_at(ErrorKind::storage, location,
                        "is a symbolic link, refusing to write through it");
            }
            if (!create) {
                return {};
            }
            fail_at(ErrorKind::storage, location, "not a folder");
        }
        fail_errno(location, err);
    }
}

void walk_files(UniqueFd dir, const std::string& prefix, const FileVisitor& visit,
                const std::function<std::string(std::string_view)>& location) {
    std::unique_ptr<DIR, DirCloser> listing(::fdopendir(dir.get()));
    if (!listing) {
        fail_errno(location(prefix), errno);
    }
    dir.release();  // owned by `listing` now
    const int fd = ::dirfd(listing.get());
    for (;;) {
        errno = 0;
        const dirent* entry = ::readdir(listing.get());
        if (entry == nullptr) {
            if (errno != 0) {
                fail_errno(location(prefix), errno);
            }
            return;
        }
        const std::string name = entry->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        unsigned char type = entry->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                continue;  // gone since readdir
            }
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        const std::string path = prefix + name;
        if (type == DT_DIR) {
            const int child =
                ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0) {
                if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
                    continue;  // replaced since readdir
                }
                fail_errno(location(path), errno);
            }
            walk_files(UniqueFd(child), path + "/", visit, location);
        } else if (type == DT_REG) {
            visit(fd, name, path);
        }
    }
}

}  // namespace obsync::sink
