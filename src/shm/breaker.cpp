// SPDX-License-Identifier: GPL-2.0-or-later
#include "shm/breaker.hpp"

#include <cstring>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "shm/table.hpp"

namespace ppolicy {
namespace {

struct State {
  uint32_t state = 0;     // 0 closed, 1 open, 2 trial
  uint32_t failures = 0;  // consecutive
  uint32_t until = 0;     // open until / trial until
};

std::string key_of(std::string_view backend) {
  return "B\n" + std::string(backend);
}

bool load(const std::string& v, State& s) {
  if (v.size() != sizeof s) return false;
  std::memcpy(&s, v.data(), sizeof s);
  return true;
}
void store(std::string& v, const State& s) {
  v.assign(reinterpret_cast<const char*>(&s), sizeof s);
}

// Breaker records outlive any cool-down by far; they go when unused for a day.
constexpr uint32_t k_keep = 86400;

}  // namespace

bool Breakers::allow(std::string_view backend, uint32_t now) {
  if (!d_records) return true;
  bool ok = true;
  d_records->update(key_of(backend), now, [&](std::string& v, uint32_t& expire, bool found) {
    State s;
    if (!found || !load(v, s) || s.state == 0) return false;
    if (now < s.until) {
      ok = false;  // open, or another caller's trial still running
      return false;
    }
    // Cool-down over (or a trial that never reported): this caller is the trial.
    s.state = 2;
    s.until = now + static_cast<uint32_t>(d_cooldown);
    store(v, s);
    expire = now + k_keep;
    return true;
  });
  return ok;
}

void Breakers::success(std::string_view backend, uint32_t now) {
  if (!d_records) return;
  bool closed = false;
  d_records->update(key_of(backend), now, [&](std::string& v, uint32_t&, bool found) {
    State s;
    if (!found || !load(v, s)) return false;
    if (s.state == 0 && s.failures == 0) return false;
    closed = s.state != 0;
    v.clear();  // erase: a healthy backend needs no record
    return true;
  });
  if (closed)
    log_info("circuit breaker for %.*s closed: backend answers again",
             static_cast<int>(backend.size()), backend.data());
}

void Breakers::failure(std::string_view backend, uint32_t now, std::string_view reason) {
  if (!d_records) return;
  bool opened = false;
  uint32_t count = 0;
  d_records->update(key_of(backend), now, [&](std::string& v, uint32_t& expire, bool found) {
    State s;
    if (!found || !load(v, s)) s = State{};
    ++s.failures;
    count = s.failures;
    if (s.state == 2 || (s.state == 0 && s.failures >= static_cast<uint32_t>(d_failures))) {
      opened = true;
      s.state = 1;
      s.until = now + static_cast<uint32_t>(d_cooldown);
    }
    store(v, s);
    expire = now + k_keep;
    return true;
  });
  if (opened)
    log_warn("circuit breaker for %.*s opened after %u failures (last: %.*s); skipping it for %lds",
             static_cast<int>(backend.size()), backend.data(), count,
             static_cast<int>(reason.size()), reason.data(), d_cooldown);
}

std::vector<Breakers::Status> Breakers::list(ShmTable& records, uint32_t now) {
  std::vector<Status> out;
  records.for_each(now, [&](std::string_view k, std::string_view v, uint32_t) {
    State s;
    if (k.substr(0, 2) != "B\n" || !load(std::string(v), s)) return;
    out.push_back({std::string(k.substr(2)), static_cast<int>(s.state), s.failures, s.until});
  });
  return out;
}

int Breakers::state(std::string_view backend, uint32_t now) {
  if (!d_records) return 0;
  std::string v;
  State s;
  if (!d_records->get(key_of(backend), v, now) || !load(v, s)) return 0;
  return static_cast<int>(s.state);
}

}  // namespace ppolicy
