#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace obsync::test {

inline Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
    Bytes out(n);
    for (auto& b : out) {
        b = static_cast<std::uint8_t>(rng());
    }
    return out;
}

// Runs `f` and returns the kind of the obsync::Error it throws; fails the test otherwise.
template <typename F>
ErrorKind error_kind_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    throw std::runtime_error("expected an obsync::Error, nothing was thrown");
}

}  // namespace obsync::test
