#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace obsync {

// What a caller can do about a failure (docs/architecture.md, "Errors"). Every decision that
// depends on a kind (retry it, stop the run, the CLI's exit code) goes through the classifiers
// below, never through a list of kinds of its own.
enum class ErrorKind {
    auth,       // the Obsidian account refused us: wrong password, invalid or expired token
    mfa,        // the account needs a 2FA code, or the code given was wrong
    not_found,  // vault, bucket, table, secret or object does not exist
    crypto,     // wrong vault password, failed authentication tag, unsupported encryption version
    protocol,   // the server said something the protocol does not allow
    network,    // connection refused, reset or timed out
    throttled,  // the service asked us to slow down (429, 503 SlowDown, Throttling...)
    // A service stayed down (no success for a while although requests kept failing): stop the
    // run now, checkpointed, instead of failing every remaining file.
    unavailable,
    busy,       // another live run holds the vault's lease or the destination's lock
    denied,     // AWS said no: IAM, a bucket or key policy, KMS, wrong or expired AWS keys
    storage,    // the destination or the state store failed
    config,     // missing or contradictory configuration
    bad_input,  // malformed data handed to us (bad hex, bad base32, hostile path)
};

std::string_view to_string(ErrorKind kind) noexcept;

// Whether the same request, made again later with nothing changed, may succeed: network,
// throttled, unavailable and busy. Everything else is permanent until someone fixes something (a
// password, a policy, the configuration) and retrying only repeats the failure. This is what a
// caller outside the run decides on: a Lambda invocation to fail (and be retried) or not.
bool is_retryable(ErrorKind kind) noexcept;

// What a run does when one step of it (a file, a folder, a removal, the change list) fails.
enum class StepFailure {
    retry,   // try the step again, on a fresh session: the connection or the service hiccuped
    fail,    // report this file and go on; a later run tries it again
    refuse,  // the destination can never hold it: settle it as refused (the cursor passes it)
    stop,    // nothing else will succeed (credentials, a service down, the claim lost, AWS
             // refusing): stop taking files, checkpoint what is done, throw
};

// network, throttled and protocol (a garbled reply on one session) → retry; bad_input → refuse;
// auth, unavailable, busy and denied → stop; the rest (not_found, crypto, storage, config, mfa)
// → fail. A retry that runs out of attempts fails the file.
StepFailure on_step_failure(ErrorKind kind) noexcept;

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
