#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "util/bytes.hpp"

namespace obsync::crypto {

// Constant-time comparison (sizes are not secret). Used for every tag and MAC check.
bool secure_equal(ByteView a, ByteView b) noexcept;

// Overwrites memory in a way the optimiser cannot remove.
void secure_wipe(void* data, std::size_t size) noexcept;

// A 256-bit key. Wiped when destroyed; deliberately has no stream or format support, so it
// cannot end up in a log line by accident.
class Key32 {
public:
    static constexpr std::size_t k_size = 32;

    Key32() = default;
    // Throws Error{crypto} unless `bytes` is exactly 32 bytes long.
    explicit Key32(ByteView bytes);
    Key32(const Key32&) = default;
    Key32& operator=(const Key32&) = default;
    ~Key32() { secure_wipe(m_bytes.data(), m_bytes.size()); }

    ByteView view() const noexcept { return m_bytes; }
    std::uint8_t* data() noexcept { return m_bytes.data(); }
    const std::uint8_t* data() const noexcept { return m_bytes.data(); }

private:
    std::array<std::uint8_t, k_size> m_bytes{};
};

}  // namespace obsync::crypto
