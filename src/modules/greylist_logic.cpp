// SPDX-License-Identifier: GPL-2.0-or-later
#include "modules/greylist_logic.hpp"

#include <cctype>
#include <cstring>

#include "base/net.hpp"
#include "base/strings.hpp"

namespace ppolicy {

GreyOutcome grey_step(GreyRecord& r, bool found, uint32_t now, const GreyTiming& t) {
  GreyOutcome out;
  if (!found || now >= r.expire) {
    // Never seen, expired after passing, or retried too late: start over.
    r.first_seen = now;
    r.expire = now + t.must_retry;
    r.state = 0;
    r.tries = 1;
    r.passes = 0;
    out.code = -1;
    out.wait = t.delay;
    out.fresh = true;
    return out;
  }
  ++r.tries;
  if (r.state == 0 && now < r.first_seen + t.delay) {
    out.code = -1;
    out.wait = r.first_seen + t.delay - now;
    return out;
  }
  // Retried inside the window, or passed before: (still) passes, and the
  // pass stays valid for `expiration` from now.
  r.state = 1;
  r.expire = now + t.expiration;
  ++r.passes;
  out.code = 1;
  return out;
}

std::string encode_grey(const GreyRecord& r) {
  char buf[17];
  std::memcpy(buf, &r.first_seen, 4);
  std::memcpy(buf + 4, &r.expire, 4);
  std::memcpy(buf + 8, &r.tries, 4);
  std::memcpy(buf + 12, &r.passes, 4);
  buf[16] = static_cast<char>(r.state);
  return std::string(buf, sizeof buf);
}

bool decode_grey(std::string_view b, GreyRecord& r) {
  if (b.size() != 17) return false;
  std::memcpy(&r.first_seen, b.data(), 4);
  std::memcpy(&r.expire, b.data() + 4, 4);
  std::memcpy(&r.tries, b.data() + 8, 4);
  std::memcpy(&r.passes, b.data() + 12, 4);
  r.state = static_cast<uint8_t>(b[16]);
  return true;
}

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// "HH=TT=domain=user" (the SRS0 fields after "SRS0=") -> user, domain.
bool srs0_fields(std::string_view rest, std::string_view& local, std::string_view& domain) {
  size_t a = rest.find('=');
  if (a == std::string_view::npos) return false;
  size_t b = rest.find('=', a + 1);
  if (b == std::string_view::npos) return false;
  size_t c = rest.find('=', b + 1);
  if (c == std::string_view::npos || c == b + 1 || c + 1 >= rest.size()) return false;
  domain = rest.substr(b + 1, c - b - 1);
  local = rest.substr(c + 1);
  return true;
}

bool is_srs_sep(char c) {
  return c == '=' || c == '+' || c == '-';
}

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

}  // namespace

std::string normalise_sender(std::string_view sender) {
  // The parts are views into one lower-cased copy, cut down step by step;
  // only the result is built (this runs for every greylisted request).
  std::string lowered = lower(sender);
  std::string_view s(lowered);
  size_t at = s.rfind('@');
  std::string_view local = s.substr(0, at),
                   domain = at == std::string_view::npos ? std::string_view() : s.substr(at + 1);

  // BATV: a per-message tag in front of the real local part.
  for (std::string_view p : {"prvs=", "msprvs1="}) {
    if (starts_with(local, p)) {
      size_t eq = local.find('=', p.size());
      if (eq != std::string_view::npos && eq + 1 < local.size()) local = local.substr(eq + 1);
      break;
    }
  }
  if (starts_with(local, "btv1==")) {
    size_t eq = local.find("==", 6);
    if (eq != std::string_view::npos && eq + 2 < local.size()) local = local.substr(eq + 2);
  }
  // SRS: the forwarder rewrote the original address into its own domain.
  if (local.size() > 5 && starts_with(local, "srs0") && is_srs_sep(local[4])) {
    srs0_fields(local.substr(5), local, domain);
  } else if (local.size() > 5 && starts_with(local, "srs1") && is_srs_sep(local[4])) {
    size_t dd = local.find("==", 5);
    if (dd != std::string_view::npos) srs0_fields(local.substr(dd + 2), local, domain);
  }
  // Address extension.
  size_t plus = local.find('+');
  if (plus != std::string_view::npos && plus > 0) local = local.substr(0, plus);
  // VERP: the recipient's address encoded into the tail.
  size_t eq = local.find('=');
  if (eq != std::string_view::npos) {
    size_t dash = local.rfind('-', eq);
    if (dash != std::string_view::npos && dash > 0) local = local.substr(0, dash);
  }
  // Numbers (message or subscriber ids) as whole words.
  std::string out;
  out.reserve(local.size() + 1 + domain.size());
  for (size_t i = 0; i < local.size();) {
    if (std::isdigit(static_cast<unsigned char>(local[i])) &&
        (i == 0 || !word_char(local[i - 1]))) {
      size_t j = i;
      while (j < local.size() && std::isdigit(static_cast<unsigned char>(local[j])))
        ++j;
      if (j == local.size() || !word_char(local[j])) {
        out += '#';
        i = j;
        continue;
      }
      out.append(local.substr(i, j - i));
      i = j;
      continue;
    }
    out += local[i++];
  }
  out += '@';
  out += domain;
  return out;
}

bool is_postmaster(std::string_view recipient) {
  return iequals(address_local(recipient), "postmaster") || iequals(recipient, "postmaster");
}

TripletProblem make_triplet(std::string_view sender, std::string_view recipient,
                            std::string_view client_address, int v4_bits, int v6_bits,
                            Triplet& out) {
  auto ip = IpAddress::parse(client_address);
  if (!ip) return TripletProblem::bad_client;
  int bits = ip->v4 ? v4_bits : v6_bits;
  out.client = ip->masked(bits).str() + "/" + std::to_string(bits);
  if (sender.empty()) {
    out.sender = "<>";
    out.recipient.clear();
    return TripletProblem::none;
  }
  size_t at = sender.rfind('@');
  if (at == std::string_view::npos || at + 1 == sender.size()) return TripletProblem::bad_sender;
  out.sender = normalise_sender(sender);
  out.recipient = lower(recipient);
  return TripletProblem::none;
}

}  // namespace ppolicy
