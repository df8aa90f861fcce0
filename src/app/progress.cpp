#include "app/progress.hpp"

#include <array>
#include <cstdio>

#include <unistd.h>

namespace obsync::app {

using Clock = std::chrono::steady_clock;

std::string human_bytes(double bytes) {
    constexpr std::array<const char*, 5> k_units = {"B", "KB", "MB", "GB", "TB"};
    std::size_t unit = 0;
    while (bytes >= 1000 && unit + 1 < k_units.size()) {
        bytes /= 1000;
        ++unit;
    }
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), unit == 0 ? "%.0f %s" : "%.1f %s", bytes,
                  k_units[unit]);
    return text.data();
}

ProgressReporter::ProgressReporter(std::string label)
    : m_label(std::move(label)), m_tty(::isatty(STDERR_FILENO) == 1) {}

void ProgressReporter::update(const sync::Progress& p) {
    if (p.files_total == 0) {
        return;  // nothing to download: the summary line says so
    }
    const auto now = Clock::now();
    const auto interval = m_tty ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
    if (m_drawn && now - m_last_draw < interval && p.files_done != p.files_total) {
        return;
    }
    m_last_draw = now;
    m_drawn = true;
    const double seconds = std::chrono::duration<double>(now - m_start).count();
    const double rate = seconds > 0 ? static_cast<double>(p.bytes_done) / seconds : 0;
    const double fraction =
        p.bytes_total > 0
            ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total)
            : (p.files_total > 0
                   ? static_cast<double>(p.files_done) / static_cast<double>(p.files_total)
                   : 1.0);
    const double eta = rate > 0 ? static_cast<double>(p.bytes_total - p.bytes_done) / rate : 0;
    // The label (an escaped vault name) can be longer than any fixed buffer: only the numbers go
    // through snprintf.
    std::array<char, 256> buffer{};
    char* rest = buffer.data();
    const std::size_t rest_size = buffer.size();
    std::string line;
    if (m_tty) {
        constexpr int k_width = 24;
        const int filled = static_cast<int>(fraction * k_width);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.resize(k_width, '.');
        std::snprintf(
            rest, rest_size, " [%s] %lld/%lld files  %s/%s  %s/s  ETA %d:%02d   ", bar.c_str(),
            static_cast<long long>(p.files_done), static_cast<long long>(p.files_total),
            human_bytes(static_cast<double>(p.bytes_done)).c_str(),
            human_bytes(static_cast<double>(p.bytes_total)).c_str(), human_bytes(rate).c_str(),
            static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
        line = "\r" + m_label + rest;
    } else {
        std::snprintf(rest, rest_size, ": %lld/%lld files, %s of %s\n",
                      static_cast<long long>(p.files_done), static_cast<long long>(p.files_total),
                      human_bytes(static_cast<double>(p.bytes_done)).c_str(),
                      human_bytes(static_cast<double>(p.bytes_total)).c_str());
        line = m_label + rest;
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

void ProgressReporter::finish() {
    if (m_tty && m_drawn) {
        std::fputs("\n", stderr);
    }
}

}  // namespace obsync::app
