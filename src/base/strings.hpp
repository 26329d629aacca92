// SPDX-License-Identifier: GPL-2.0-or-later
// Small string helpers shared by the whole daemon: trimming, splitting, case,
// printf-style formatting (GCC 12 has no <format>) and strict number parsing.
// Nothing here allocates more than its result; nothing throws except format().
#pragma once

#include <cstdarg>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
// ASCII letters of s from byte `from` on to lower case, in place (no copy).
void lower_in_place(std::string& s, size_t from = 0);
std::string upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Split on any character of `seps`, dropping empty pieces and trimming each.
std::vector<std::string> split(std::string_view s, std::string_view seps = ", \t");
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// printf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string format(const char* fmt, ...);
std::string vformat(const char* fmt, va_list ap);

// Appends for the per-request paths (log line, saved results, module info),
// where printf's parsing and locale handling cost more than the work: the
// same text as snprintf's "%.<precision>f", "%g" and "%lld"/"%llu" in the C
// locale (std::to_chars; t/unit/test_util.cpp compares them with snprintf).
void append_fixed(std::string& out, double v, int precision);
void append_g(std::string& out, double v);
void append_int(std::string& out, long long v);
void append_uint(std::string& out, unsigned long long v);

// Strict parsers: the whole string must be consumed.
std::optional<long long> parse_int(std::string_view s);
std::optional<double> parse_double(std::string_view s);
std::optional<bool> parse_bool(std::string_view s);  // yes/no, true/false, on/off, 1/0
// "90", "90s", "15m", "2h", "1d", "1w" -> seconds.
std::optional<long long> parse_duration(std::string_view s);
// "250ms" -> 250; otherwise a duration as above, in milliseconds.
std::optional<long long> parse_millis(std::string_view s);
// "65536", "64k", "64K", "32M", "1G" -> bytes.
std::optional<long long> parse_size(std::string_view s);

// Mail address helpers: the domain is the part after the last '@' (as
// Postfix splits), the local part what is before it; no '@' -> domain "".
std::string_view address_domain(std::string_view addr);
std::string_view address_local(std::string_view addr);

// True when s is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);
// No NUL byte and no byte >= 0x80 (then valid UTF-8 too); eight bytes per step.
bool plain_ascii(std::string_view s);

// Quote for logs: printable ASCII kept, everything else as \xNN; after `max`
// output characters, "...". log_quote_append appends the same text to `out`.
std::string log_quote(std::string_view s, size_t max = 200);
void log_quote_append(std::string& out, std::string_view s, size_t max = 200);

}  // namespace ppolicy
