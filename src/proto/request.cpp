// SPDX-License-Identifier: GPL-2.0-or-later
#include "proto/request.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

const char* const k_attr_names[k_attr_count] = {"request",
                                                "protocol_state",
                                                "protocol_name",
                                                "helo_name",
                                                "queue_id",
                                                "sender",
                                                "recipient",
                                                "recipient_count",
                                                "client_address",
                                                "client_name",
                                                "reverse_client_name",
                                                "instance",
                                                "sasl_method",
                                                "sasl_username",
                                                "sasl_sender",
                                                "size",
                                                "ccert_subject",
                                                "ccert_issuer",
                                                "ccert_fingerprint",
                                                "ccert_pubkey_fingerprint",
                                                "encryption_protocol",
                                                "encryption_cipher",
                                                "encryption_keysize",
                                                "etrn_domain",
                                                "stress",
                                                "client_port",
                                                "policy_context",
                                                "server_address",
                                                "server_port",
                                                "compatibility_level",
                                                "mail_version",
                                                "tls_sni"};

const char* const k_derived_names[] = {"sender_domain",   "sender_local", "recipient_domain",
                                       "recipient_local", "client_ptr",   "listener"};

}  // namespace

const char* attr_name(Attr a) {
  return k_attr_names[static_cast<int>(a)];
}

std::optional<Attr> attr_from_name(std::string_view name) {
  // Called for every line of every request and every saved result: only the
  // names of the same length are compared (at most 6 share one; a saved
  // result's name usually matches no length at all).
  // Each candidate's first eight bytes (zero-padded) are compared as one
  // word first; only a word that matches is compared to the end.
  constexpr size_t k_max_len = 32;
  struct ByLength {
    uint8_t n = 0;
    uint8_t attrs[8];
    uint64_t head[8];
  };
  auto head_of = [](std::string_view s) {
    uint64_t w = 0;
    std::memcpy(&w, s.data(), std::min<size_t>(s.size(), 8));
    return w;
  };
  static const auto table = [&] {
    std::array<ByLength, k_max_len + 1> t{};
    for (int i = 0; i < k_attr_count; ++i) {
      size_t len = std::strlen(k_attr_names[i]);
      ByLength& b = t[len];  // every name is shorter than k_max_len
      b.head[b.n] = head_of(k_attr_names[i]);
      b.attrs[b.n++] = static_cast<uint8_t>(i);
    }
    return t;
  }();
  if (name.size() > k_max_len) return std::nullopt;
  const ByLength& b = table[name.size()];
  if (b.n == 0) return std::nullopt;
  uint64_t head = head_of(name);
  for (uint8_t k = 0; k < b.n; ++k)
    if (b.head[k] == head &&
        (name.size() <= 8 ||
         std::memcmp(name.data() + 8, k_attr_names[b.attrs[k]] + 8, name.size() - 8) == 0))
      return static_cast<Attr>(b.attrs[k]);
  return std::nullopt;
}

bool attr_is_numeric(Attr a) {
  return a == Attr::recipient_count || a == Attr::size || a == Attr::encryption_keysize ||
         a == Attr::client_port || a == Attr::server_port;
}

const char* derived_name(Derived d) {
  return k_derived_names[static_cast<int>(d)];
}

std::optional<Derived> derived_from_name(std::string_view name) {
  for (int i = 0; i < static_cast<int>(Derived::count_); ++i)
    if (name == k_derived_names[i]) return static_cast<Derived>(i);
  return std::nullopt;
}

namespace {
// Postfix's values are at most a few hundred bytes: a longer name or copied
// value is given back at the next clear().
constexpr size_t k_keep_bytes = 1024;
}  // namespace

void Request::trim() {
  if (d_attrs.size() > k_keep_entries) d_attrs.resize(k_keep_entries);
  d_attrs.shrink_to_fit();
  for (auto& e : d_attrs) {
    if (e.name.capacity() > k_keep_bytes) {
      std::string().swap(e.name);
      e.attr = -1;
      e.number = -1;
    }
    if (e.own.capacity() > k_keep_bytes) std::vector<char>().swap(e.own);
  }
  d_trim = false;
}

void Request::clear() {
  if (d_trim) trim();
  d_n = 0;
  std::memset(d_known, 0xff, sizeof d_known);  // -1: absent
  if (++d_stamp == 0) {                        // wrapped: no stamp of an earlier request may match
    std::fill(d_numbered_stamp.begin(), d_numbered_stamp.end(), 0);
    d_stamp = 1;
  }
  d_unnumbered = false;
  listener.clear();
}

size_t Request::append(std::string_view name, int attr) {
  if (d_n == d_attrs.size()) d_attrs.emplace_back();
  if (d_n >= k_keep_entries || name.size() > k_keep_bytes) d_trim = true;
  Entry& e = d_attrs[d_n];
  // Postfix sends its attributes in the same order every time: the entry
  // reused usually has this name already.
  if (std::string_view(e.name) != name) {
    e.name.assign(name);
    e.attr = static_cast<int8_t>(attr);
    e.number = -1;
  }
  return d_n++;
}

void Request::assign(size_t slot, std::string_view value, bool copy) {
  Entry& e = d_attrs[slot];
  if (copy) {
    if (value.size() > k_keep_bytes) d_trim = true;
    // vector::assign must not read from the vector itself (a value set
    // again from its own view).
    bool self = e.owned && !e.own.empty() && value.data() >= e.own.data() &&
                value.data() < e.own.data() + e.own.size();
    if (self)
      e.own = std::vector<char>(value.begin(), value.end());
    else
      e.own.assign(value.begin(), value.end());
    e.owned = true;
  } else {
    e.owned = false;
    e.sent = value;
  }
}

void Request::keep_values() {
  for (size_t i = 0; i < d_n; ++i)
    if (!d_attrs[i].owned) assign(i, d_attrs[i].sent, true);
}

size_t Request::slot_of(std::string_view name) const {
  for (size_t i = 0; i < d_n; ++i)
    if (d_attrs[i].name == name) return i;
  return d_n;
}

void Request::set_numbered(size_t number, std::string_view name, std::string_view value) {
  if (number >= d_numbered_slot.size()) {
    d_numbered_slot.resize(number + 1, -1);
    d_numbered_stamp.resize(number + 1, 0);
  }
  if (d_numbered_stamp[number] == d_stamp) {
    assign(static_cast<size_t>(d_numbered_slot[number]), value, true);
    return;
  }
  // Only a client's own unknown attribute (or a second run's name) can be
  // there already under this name.
  size_t slot = d_unnumbered ? slot_of(name) : d_n;
  if (slot == d_n) {
    // The entry here had this number (so this name) last time: no compare.
    if (d_n < d_attrs.size() && d_attrs[d_n].number == static_cast<int32_t>(number)) {
      if (++d_n > k_keep_entries) d_trim = true;
    } else {
      append(name, -1);
      d_attrs[slot].number = static_cast<int32_t>(number);
    }
  }
  assign(slot, value, true);
  d_numbered_slot[number] = static_cast<int16_t>(slot);
  d_numbered_stamp[number] = d_stamp;
}

size_t Request::slot_for(std::string_view name, int attr) {
  if (attr >= 0) {
    int16_t& known = d_known[attr];
    if (known >= 0) return static_cast<size_t>(known);
    known = static_cast<int16_t>(d_n);
    return d_n;
  }
  size_t slot = slot_of(name);
  if (slot == d_n) d_unnumbered = true;
  return slot;
}

void Request::set_value(std::string_view name, std::string_view value, bool copy) {
  // The entry at this position last time usually has this name already:
  // its attribute number is known without attr_from_name().
  int a;
  if (d_n < d_attrs.size() && d_attrs[d_n].name == name)
    a = d_attrs[d_n].attr;
  else if (auto known = attr_from_name(name))
    a = static_cast<int>(*known);
  else
    a = -1;
  size_t slot = slot_for(name, a);
  if (slot == d_n) append(name, a);
  assign(slot, value, copy);
}

bool Request::set_expected_again(std::string_view value) {
  const Entry& e = d_attrs[d_n];
  size_t slot = slot_for(e.name, e.attr);
  if (slot == d_n) return false;
  assign(slot, value, false);  // repeated: the last value wins
  return true;
}

std::string_view Request::get(Attr a) const {
  int16_t slot = d_known[static_cast<int>(a)];
  return slot >= 0 ? d_attrs[slot].value() : std::string_view();
}

std::optional<std::string_view> Request::find(std::string_view name) const {
  if (auto a = attr_from_name(name)) {
    int16_t slot = d_known[static_cast<int>(*a)];
    if (slot < 0) return std::nullopt;
    return d_attrs[slot].value();
  }
  size_t i = slot_of(name);
  if (i == d_n) return std::nullopt;
  return d_attrs[i].value();
}

std::string_view Request::get(std::string_view name) const {
  return find(name).value_or(std::string_view());
}

std::string Request::derived(Derived d) const {
  switch (d) {
    // Domains compare case-insensitively, so they are given in lower case;
    // local parts are case-sensitive in principle and are kept as sent.
    case Derived::sender_domain:
      return lower(address_domain(get(Attr::sender)));
    case Derived::sender_local:
      return std::string(address_local(get(Attr::sender)));
    case Derived::recipient_domain:
      return lower(address_domain(get(Attr::recipient)));
    case Derived::recipient_local:
      return std::string(address_local(get(Attr::recipient)));
    case Derived::client_ptr: {
      // Postfix says "unknown" when the client has no verified name.
      auto n = get(Attr::client_name);
      return n == "unknown" ? std::string() : lower(n);
    }
    case Derived::listener:
      return listener;
    case Derived::count_:
      break;
  }
  return {};
}

}  // namespace ppolicy
