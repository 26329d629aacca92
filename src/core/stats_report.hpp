// SPDX-License-Identifier: GPL-2.0-or-later
// Statistics as text: the SIGUSR1 log report, and the Prometheus text
// exposition of every counter in the shared segment.
#pragma once

#include <cstddef>
#include <string>

namespace ppolicy {

class Segment;

void log_stats_report(Segment& shm, size_t workers, int generation);
std::string prometheus_text(Segment& shm);

}  // namespace ppolicy
