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
        case ErrorKind::denied:
            return "denied";
        case ErrorKind::storage:
            return "storage";
        case ErrorKind::config:
            return "config";
        case ErrorKind::bad_input:
            return "bad_input";
    }
    return "unknown";
}

// Switches without a default, so that a new kind does not compile (-Werror=switch) until both
// decisions are made for it.
bool is_retryable(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::network:
        case ErrorKind::throttled:
        case ErrorKind::unavailable:
        case ErrorKind::busy:
            return true;
        case ErrorKind::auth:
        case ErrorKind::mfa:
        case ErrorKind::not_found:
        case ErrorKind::crypto:
        case ErrorKind::protocol:
        case ErrorKind::denied:
        case ErrorKind::storage:
        case ErrorKind::config:
        case ErrorKind::bad_input:
            return false;
    }
    return false;
}

StepFailure on_step_failure(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::network:
        case ErrorKind::throttled:
        // A reply the protocol does not allow leaves that session out of step; a new one
        // usually gets the file. It is not retryable across runs: a server that keeps saying
        // it needs a fix, not a rerun.
        case ErrorKind::protocol:
            return StepFailure::retry;
        case ErrorKind::bad_input:
            return StepFailure::refuse;
        // The token or key stopped working, a service is down, the claim was lost, AWS refuses
        // this role: every other file would fail the same way.
        case ErrorKind::auth:
        case ErrorKind::unavailable:
        case ErrorKind::busy:
        case ErrorKind::denied:
            return StepFailure::stop;
        case ErrorKind::mfa:
        case ErrorKind::not_found:
        case ErrorKind::crypto:
        case ErrorKind::storage:
        case ErrorKind::config:
            return StepFailure::fail;
    }
    return StepFailure::fail;
}

}  // namespace obsync
