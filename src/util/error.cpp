#include "util/error.hpp"

namespace obsync {

std::string_view to_string(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::auth:
            return "auth";
        case ErrorKind::mfa:
            return "mfa";
        case ErrorKind::not_found:
            return "not_found";
        case ErrorKind::crypto:
            return "crypto";
        case ErrorKind::protocol:
            return "protocol";
        case ErrorKind::network:
            return "network";
        case ErrorKind::throttled:
            return "throttled";
        case ErrorKind::unavailable:
            return "unavailable";
        case ErrorKind::busy:
            return "busy";
        case ErrorKind::storage:
            return "storage";
        case ErrorKind::config:
            return "config";
        case ErrorKind::bad_input:
            return "bad_input";
    }
    return "unknown";
}

}  // namespace obsync
