// SPDX-License-Identifier: GPL-2.0-or-later
// Options are rows: name, type, default (a string parsed exactly like user
// input), help, and for some types a choice list or bounds. One table per
// section kind ([ppolicyd], [dns], [database], each module type) drives
// validation, `ppolicyd -M`, the sample configuration and the man-page test.
// OptionValues holds one section's parsed values.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "conf/error.hpp"
#include "conf/ini.hpp"

namespace ppolicy {

enum class OptType {
  string,    // free text; continuation lines are joined with a space
  integer,   // whole number within [min, max]
  duration,  // seconds; "600", "10m", "2h", "1d", "1w"
  millis,    // milliseconds; "250ms", or a duration ("2s", "1m"); plain numbers are seconds
  size,      // bytes; "65536", "64k", "32M", "1G"
  number,    // floating point
  boolean,   // yes/no, true/false, on/off, 1/0
  list,      // comma/space separated; repeated keys and continuation lines append
  choice,    // one word of `choices` ("a|b|c"), case-insensitive
};

struct OptValue;

// Stores a parsed value into a member of a settings struct (see bind<>
// below). A custom store may refuse a value with a short phrase in *why
// (an octal mode, an address list); the framework adds file, line, section
// and key.
using OptStore = bool (*)(void* obj, const OptValue& value, std::string* why);

struct Option {
  const char* name;
  OptType type;
  const char* def;   // default text; nullptr = no default (unset)
  const char* help;  // one line for -M and the sample configuration
  const char* choices = nullptr;
  long long min = LLONG_MIN;
  long long max = LLONG_MAX;
  bool required = false;
  OptStore store = nullptr;   // where the value goes (OptionValues::store)
  bool restart_only = false;  // set up before privileges are dropped: a reload keeps the old value
};

const char* opt_type_name(OptType t);

struct OptValue {
  bool present = false;    // has a value (explicit or default)
  bool explicit_ = false;  // set in the file or with -o
  bool bad = false;        // did not parse (an error was reported): not stored
  int line = 0;
  std::string text;  // the text as written (joined continuation lines)
  long long i = 0;   // integer, duration, millis, size, boolean (0/1)
  double d = 0;      // number (and every integer type, as a double)
  std::vector<std::string> list;
};

namespace option_detail {
inline bool assign(std::string& to, const OptValue& v) {
  return to = v.text, true;
}
inline bool assign(bool& to, const OptValue& v) {
  return to = v.i != 0, true;
}
inline bool assign(double& to, const OptValue& v) {
  return to = v.d, true;
}
inline bool assign(std::vector<std::string>& to, const OptValue& v) {
  return to = v.list, true;
}
template <class T>
requires std::is_integral_v<T>
bool assign(T& to, const OptValue& v) {
  return to = static_cast<T>(v.i), true;
}
// An optional member stays empty when the row has no value (no default and
// not set): the parameter is "unset", which some modules treat specially.
template <class T>
bool assign(std::optional<T>& to, const OptValue& v) {
  T x{};
  if (!assign(x, v)) return false;
  to = std::move(x);
  return true;
}
template <class M>
struct member;
template <class S, class T>
struct member<T S::*> {
  using owner = S;
};
template <auto M>
bool store_member(void* obj, const OptValue& v, std::string*) {
  return assign(static_cast<typename member<decltype(M)>::owner*>(obj)->*M, v);
}
}  // namespace option_detail

// The store of a row whose value goes into the member M as it is:
//   {"port", OptType::integer, "53", "...", ..., .store = bind<&DnsSettings::port>()}
template <auto M>
constexpr OptStore bind() {
  return &option_detail::store_member<M>;
}

// A row bound to member M, for tables written as positional rows:
//   bound_row<&GreylistParams::delay>({"delay", OptType::duration, "600", "..."})
template <auto M>
constexpr Option bound_row(Option row) {
  row.store = bind<M>();
  return row;
}

class OptionValues {
 public:
  OptionValues() = default;
  // `section` is used in messages: "[module greylist]".
  OptionValues(std::span<const Option> rows, std::string section, std::string file);

  // Apply one INI entry. Unknown keys, bad values and duplicates go to errors.
  void apply(const IniEntry& e, ErrorList& errors);
  // Defaults for what was not set; required keys checked.
  void finish(ErrorList& errors);
  // Every present value of rows [first, last) into the struct those rows
  // are bound to (their store functions); refused values go to errors.
  void store(void* obj, ErrorList& errors, size_t first = 0, size_t last = SIZE_MAX) const;
  // The value of row `i` as parsed (for reloads and `ppolicyd -n`).
  const OptValue& value(size_t i) const { return d_values[i]; }
  void set_value(size_t i, const OptValue& v) { d_values[i] = v; }

  bool has(std::string_view name) const;          // present (set or defaulted)
  bool is_explicit(std::string_view name) const;  // set by the user
  int line(std::string_view name) const;
  const std::string& str(std::string_view name) const;
  long long integer(std::string_view name) const;  // also duration, size
  double number(std::string_view name) const;
  bool boolean(std::string_view name) const;
  const std::vector<std::string>& list(std::string_view name) const;
  std::span<const Option> rows() const { return d_rows; }
  const std::string& section() const { return d_section; }
  const std::string& file() const { return d_file; }

  // Stable text of all values, for fingerprints (cache keys across reloads).
  std::string canonical() const;

  const OptValue& get(std::string_view name) const;

 private:
  int index(std::string_view name) const;
  bool parse(const Option& row, OptValue& v, std::string* why) const;

  std::span<const Option> d_rows;
  std::vector<OptValue> d_values;
  std::string d_section, d_file;
};

}  // namespace ppolicy
