#pragma once

#include <chrono>
#include <string>

#include "sync/engine.hpp"

namespace obsync::app {

// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.
class ProgressReporter {
public:
    explicit ProgressReporter(std::string label);
    void update(const sync::Progress& progress);
    void finish();

private:
    std::string m_label;
    bool m_tty;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point m_last_draw{};
    bool m_drawn = false;
};

std::string human_bytes(double bytes);

}  // namespace obsync::app
