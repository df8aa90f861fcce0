#include "sync/deadline.hpp"

#include <algorithm>

namespace obsync::sync {

Deadline::Deadline(std::optional<Clock::time_point> stop_at,
                   std::optional<Clock::time_point> cut_at)
    : m_stop_at(stop_at ? stop_at : cut_at), m_cut_at(cut_at ? cut_at : stop_at) {
    if (m_stop_at && m_cut_at) {
        m_cut_at = std::max(*m_cut_at, *m_stop_at);
    }
}

Deadline::Clock::duration Deadline::pause(Clock::duration delay, Clock::time_point now) const {
    if (!m_stop_at) {
        return delay;
    }
    return std::clamp<Clock::duration>(*m_stop_at - now, Clock::duration::zero(), delay);
}

}  // namespace obsync::sync
