// SPDX-License-Identifier: GPL-2.0-or-later
// One policy request: the attributes Postfix sent (in arrival order, last
// value wins for a repeated name), fast access to the attributes Postfix
// documents, derived attributes (sender_domain, ...), and the results that
// modules save into it (saveResult), which dump modules and later modules see.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ppolicy {

// Attributes documented in SMTPD_POLICY_README (Postfix 2.1 .. 3.12).
enum class Attr : uint8_t {
  request,
  protocol_state,
  protocol_name,
  helo_name,
  queue_id,
  sender,
  recipient,
  recipient_count,
  client_address,
  client_name,
  reverse_client_name,
  instance,
  sasl_method,
  sasl_username,
  sasl_sender,
  size,
  ccert_subject,
  ccert_issuer,
  ccert_fingerprint,
  ccert_pubkey_fingerprint,
  encryption_protocol,
  encryption_cipher,
  encryption_keysize,
  etrn_domain,
  stress,
  client_port,
  policy_context,
  server_address,
  server_port,
  compatibility_level,
  mail_version,
  tls_sni,
  count_
};
inline constexpr int k_attr_count = static_cast<int>(Attr::count_);

const char* attr_name(Attr a);
std::optional<Attr> attr_from_name(std::string_view name);
bool attr_is_numeric(Attr a);  // recipient_count, size, client_port, ...

// Derived attributes, computed from the ones Postfix sent.
enum class Derived : uint8_t {
  sender_domain,
  sender_local,
  recipient_domain,
  recipient_local,
  client_ptr,
  listener,
  count_
};
const char* derived_name(Derived d);
std::optional<Derived> derived_from_name(std::string_view name);

class Request {
  struct Entry;

 public:
  // The attributes in arrival order, each as a (name, value) pair of views.
  class Attributes {
   public:
    struct iterator {
      const Entry* p;
      std::pair<std::string_view, std::string_view> operator*() const;
      iterator& operator++() {
        ++p;
        return *this;
      }
      bool operator!=(const iterator& o) const { return p != o.p; }
    };
    iterator begin() const { return {d_begin}; }
    iterator end() const { return {d_end}; }

   private:
    friend class Request;
    Attributes(const Entry* b, const Entry* e) : d_begin(b), d_end(e) {}
    const Entry* d_begin;
    const Entry* d_end;
  };

  Request() { clear(); }
  void clear();
  // set() copies the value. set_sent() is for the reader: the value stays
  // in the reader's buffer, which holds still while the request is handled
  // (keep_values() copies them when a request waits for more bytes).
  void set(std::string_view name, std::string_view value) { set_value(name, value, true); }
  void set_sent(std::string_view name, std::string_view value) { set_value(name, value, false); }
  void keep_values();
  // Postfix sends its attributes in the same order every time. If `line`
  // begins with "NAME=" where NAME is the name sent at this position in the
  // previous request, the length of NAME, else 0; set_expected() then sets
  // that name's value as set_sent() would, without looking the name up.
  size_t expected_name(std::string_view line) const {
    if (d_n >= d_attrs.size()) return 0;
    const std::string& n = d_attrs[d_n].name;
    return line.size() > n.size() && line[n.size()] == '=' && !n.empty() &&
                   same_bytes(line.data(), n.data(), n.size())
               ? n.size()
               : 0;
  }
  void set_expected(std::string_view value) {
    Entry& e = d_attrs[d_n];
    // A documented attribute not seen yet in this request: nearly always.
    if (e.attr >= 0 && d_known[e.attr] < 0)
      d_known[e.attr] = static_cast<int16_t>(d_n);
    else if (set_expected_again(value))
      return;
    e.owned = false;
    e.sent = value;
    if (++d_n > k_keep_entries) d_trim = true;
  }
  // set() for a name given a number when the configuration was built (a
  // module's saved result, ResultSaver): the number finds it again without
  // a search among the request's attributes. `name` is never an attribute
  // Postfix sends (attr_from_name), and always the same for one number.
  void set_numbered(size_t number, std::string_view name, std::string_view value);
  // Values Postfix sent (or modules saved), "" when absent.
  std::string_view get(std::string_view name) const;
  std::string_view get(Attr a) const;
  std::optional<std::string_view> find(std::string_view name) const;
  std::string derived(Derived d) const;
  Attributes attributes() const { return {d_attrs.data(), d_attrs.data() + d_n}; }
  size_t size() const { return d_n; }

  std::string listener;  // the listener this request arrived on, e.g. "inet:127.0.0.1:10030"

 private:
  // Postfix sends about 30 attributes; modules add a few per instance
  // (saveResult).
  static constexpr size_t k_keep_entries = 128;
  struct Entry {
    std::string name;     // kept for the next request: Postfix repeats its order
    int8_t attr = -1;     // attr_from_name(name), -1 for none
    int32_t number = -1;  // set_numbered() number of the name, -1 for none
    bool owned = false;
    std::string_view sent;  // the value in the reader's buffer (!owned)
    // The value (owned). Not a std::string: its bytes stay where they are
    // when d_attrs grows and moves its entries (a short std::string keeps
    // them inside the entry), so a view of a value taken while a module
    // adds its saved results stays valid (policy/eval.cpp eval_view).
    std::vector<char> own;
    std::string_view value() const {
      return owned ? std::string_view(own.data(), own.size()) : sent;
    }
  };
  // Entries beyond d_n are kept (with their string capacity) for reuse:
  // a worker parses thousands of requests without allocating. A request far
  // larger than Postfix sends (many attributes, long values) sets d_trim, and
  // the next clear() gives that memory back, so hostile requests cannot
  // leave every worker holding max_attributes x max_line_length bytes.
  void trim();
  std::vector<Entry> d_attrs;
  size_t d_n = 0;
  bool d_trim = false;
  int16_t d_known[k_attr_count];
  // set_numbered(): the slot of each number, valid while its stamp is this
  // request's (clear() starts a new stamp instead of wiping the table).
  std::vector<int16_t> d_numbered_slot;
  std::vector<uint32_t> d_numbered_stamp;
  uint32_t d_stamp = 0;
  bool d_unnumbered = false;  // set() added a name attr_from_name does not know
  void set_value(std::string_view name, std::string_view value, bool copy);
  // set_expected(): records a new name (false), or sets the value of a
  // repeated one (true).
  bool set_expected_again(std::string_view value);
  // memcmp(a, b, n) == 0 for the short names of attributes, eight bytes at
  // a time and without a call (n >= 1; whole words, then the last eight
  // bytes again, overlapping).
  static bool same_bytes(const char* a, const char* b, size_t n) {
    uint64_t x, y;
    if (n < 8) {
      for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
      return true;
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  size_t append(std::string_view name, int attr);
  void assign(size_t slot, std::string_view value, bool copy);
  size_t slot_of(std::string_view name) const;  // an entry by its name, d_n if none
  // The entry already holding `name` (attr_from_name's number, -1 for
  // none) in this request, or d_n for a new name, which is then recorded
  // as the entry at d_n (d_known, or d_unnumbered).
  size_t slot_for(std::string_view name, int attr);
};

inline std::pair<std::string_view, std::string_view> Request::Attributes::iterator::operator*()
    const {
  return {p->name, p->value()};
}

}  // namespace ppolicy
