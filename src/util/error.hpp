#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace obsync {

// What a caller can do about a failure (docs/architecture.md, "Errors").
enum class ErrorKind {
    auth,       // wrong credentials, invalid or expired token, vault password rejected
    mfa,        // the account needs a 2FA code, or the code given was wrong
    not_found,  // vault, bucket, table or object does not exist
    crypto,     // wrong vault password, failed authentication tag, unsupported encryption version
    protocol,   // the server said something the protocol does not allow
    network,    // connection refused, reset or timed out: retryable
    throttled,  // the service asked us to slow down: retryable
    // A service stayed down (no success for a while although requests kept failing): stop the
    // run now, checkpointed, instead of failing every remaining file; retryable later.
    unavailable,
    busy,       // another live run holds the vault's lease or the destination's lock: retryable
    storage,    // the destination or the state store failed
    config,     // missing or contradictory configuration
    bad_input,  // malformed data handed to us (bad hex, bad base32, hostile path)
};

std::string_view to_string(ErrorKind kind) noexcept;

inline bool is_retryable(ErrorKind kind) noexcept {
    return kind == ErrorKind::network || kind == ErrorKind::throttled ||
           kind == ErrorKind::unavailable || kind == ErrorKind::busy;
}

// The one exception type of the project. Messages are written for the user and never carry
// secrets: no password, token, key or TOTP secret is ever formatted into one.
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}

    ErrorKind kind() const noexcept { return m_kind; }
    bool retryable() const noexcept { return is_retryable(m_kind); }

private:
    ErrorKind m_kind;
};

}  // namespace obsync
