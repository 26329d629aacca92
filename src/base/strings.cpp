// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/strings.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace ppolicy {

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n'))
    ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return s.substr(b, e - b);
}

void lower_in_place(std::string& s, size_t from) {
  for (size_t i = from; i < s.size(); ++i)
    if (s[i] >= 'A' && s[i] <= 'Z') s[i] = static_cast<char>(s[i] - 'A' + 'a');
}

std::string lower(std::string_view s) {
  std::string r(s);
  lower_in_place(r);
  return r;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return r;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::vector<std::string> split(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find_first_of(seps, i);
    if (j == std::string_view::npos) j = s.size();
    auto piece = trim(s.substr(i, j - i));
    if (!piece.empty()) out.emplace_back(piece);
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string r;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) r += sep;
    r += parts[i];
  }
  return r;
}

std::string vformat(const char* fmt, va_list ap) {
  char buf[512];
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return {};
  }
  if (static_cast<size_t>(n) < sizeof buf) {
    va_end(ap2);
    return std::string(buf, static_cast<size_t>(n));
  }
  std::string r(static_cast<size_t>(n), '\0');
  std::vsnprintf(r.data(), r.size() + 1, fmt, ap2);
  va_end(ap2);
  return r;
}

std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string r = vformat(fmt, ap);
  va_end(ap);
  return r;
}

namespace {
// Large enough for any double in %g or %.<p>f with p <= 17 (DBL_MAX is 309
// digits before the point) and any 64-bit integer.
constexpr size_t k_num_buf = 340;

void append_chars(std::string& out, const char* b, std::to_chars_result r) {
  if (r.ec == std::errc()) out.append(b, static_cast<size_t>(r.ptr - b));
}
}  // namespace

void append_fixed(std::string& out, double v, int precision) {
  // The common case (times in ms, rates: non-negative, below a million, up
  // to three decimals) by integer arithmetic: to_chars costs ~500
  // instructions a call, and a request renders several. The scaling's error
  // is below 1.2e-7 there, so a scaled fraction more than 1e-6 from one half
  // rounds as the exact binary value does; one closer (a tie such as 2.25
  // to one decimal, which printf rounds to even) takes to_chars.
  static constexpr unsigned k_pow10[] = {1, 10, 100, 1000};
  if (precision >= 0 && precision <= 3 && !std::signbit(v) && v < 1e6) {
    double f = v * k_pow10[precision];
    double whole = std::floor(f);
    double frac = f - whole;
    if (std::fabs(frac - 0.5) > 1e-6) {
      auto r = static_cast<unsigned long long>(whole) + (frac > 0.5 ? 1 : 0);
      append_uint(out, r / k_pow10[precision]);
      if (precision > 0) {
        char d[3];
        unsigned long long rest = r % k_pow10[precision];
        for (int i = precision - 1; i >= 0; --i, rest /= 10)
          d[i] = static_cast<char>('0' + rest % 10);
        out += '.';
        out.append(d, static_cast<size_t>(precision));
      }
      return;
    }
  }
  char b[k_num_buf];
  append_chars(out, b, std::to_chars(b, b + sizeof b, v, std::chars_format::fixed, precision));
}

void append_g(std::string& out, double v) {
  // Whole numbers below a million (counts, limits) print as integers under
  // %g too: without to_chars. (-0 prints "-0": left to to_chars.)
  if (std::fabs(v) < 1e6 && v == std::floor(v) && !(v == 0 && std::signbit(v))) {
    append_int(out, static_cast<long long>(v));
    return;
  }
  char b[k_num_buf];
  append_chars(out, b, std::to_chars(b, b + sizeof b, v, std::chars_format::general, 6));
}

void append_int(std::string& out, long long v) {
  char b[24];
  append_chars(out, b, std::to_chars(b, b + sizeof b, v));
}

void append_uint(std::string& out, unsigned long long v) {
  char b[24];
  append_chars(out, b, std::to_chars(b, b + sizeof b, v));
}

std::optional<long long> parse_int(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 30) return std::nullopt;
  std::string tmp(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(tmp.c_str(), &end, 10);
  if (errno != 0 || end != tmp.c_str() + tmp.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 60) return std::nullopt;
  std::string tmp(s);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (errno != 0 || end != tmp.c_str() + tmp.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  s = trim(s);
  if (iequals(s, "yes") || iequals(s, "true") || iequals(s, "on") || s == "1") return true;
  if (iequals(s, "no") || iequals(s, "false") || iequals(s, "off") || s == "0") return false;
  return std::nullopt;
}

namespace {
std::optional<long long> parse_scaled(std::string_view s, std::string_view units,
                                      const long long* factors) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  long long factor = 1;
  auto pos = units.find(s.back());
  if (pos != std::string_view::npos) {
    factor = factors[pos];
    s.remove_suffix(1);
  }
  auto v = parse_int(s);
  if (!v || *v < 0) return std::nullopt;
  if (*v > (1LL << 62) / factor) return std::nullopt;
  return *v * factor;
}
}  // namespace

std::optional<long long> parse_duration(std::string_view s) {
  static const long long f[] = {1, 60, 3600, 86400, 604800};
  return parse_scaled(s, "smhdw", f);
}

std::optional<long long> parse_millis(std::string_view s) {
  s = trim(s);
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    auto v = parse_int(s.substr(0, s.size() - 2));
    if (!v || *v < 0) return std::nullopt;
    return v;
  }
  auto v = parse_duration(s);
  if (!v || *v > (1LL << 40)) return std::nullopt;
  return *v * 1000;
}

std::optional<long long> parse_size(std::string_view s) {
  static const long long f[] = {1024, 1024, 1024LL * 1024, 1024LL * 1024 * 1024};
  return parse_scaled(s, "kKMG", f);
}

std::string_view address_domain(std::string_view addr) {
  auto at = addr.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : addr.substr(at + 1);
}

std::string_view address_local(std::string_view addr) {
  auto at = addr.rfind('@');
  return at == std::string_view::npos ? addr : addr.substr(0, at);
}

bool plain_ascii(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
#ifdef __SSE2__
  // Sixteen bytes a step (every read of a request passes here once): a
  // byte equal to zero or with its high bit set shows in the mask.
  const __m128i zero = _mm_setzero_si128();
  for (; end - p >= 16; p += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero)))) return false;
  }
#endif
  constexpr uint64_t k_ones = 0x0101010101010101ULL, k_highs = 0x8080808080808080ULL;
  for (; end - p >= 8; p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // A high bit anywhere, or a zero byte ((w - 1s) & ~w & highs is nonzero
    // exactly when some byte of w is zero).
    if ((w & k_highs) || ((w - k_ones) & ~w & k_highs)) return false;
  }
  for (; p < end; ++p)
    if (*p == 0 || *p >= 0x80) return false;
  return true;
}

bool valid_utf8(std::string_view s) {
  if (plain_ascii(s)) return true;  // nearly every text: eight bytes per step
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned min;
    if ((c & 0xE0) == 0xC0) {
      n = 1, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, min = 0x10000, c &= 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

std::string log_quote(std::string_view s, size_t max) {
  std::string r;
  r.reserve(std::min(s.size(), max) + 8);
  log_quote_append(r, s, max);
  return r;
}

namespace {
// Whether all eight bytes of w are kept: none below 0x20, above 0x7e
// (0x7f + 1 or a high bit), or a backslash (zero after the xor); each
// term is nonzero exactly when some byte of w is one.
bool printable_word(uint64_t w) {
  constexpr uint64_t k_ones = 0x0101010101010101ULL, k_highs = 0x8080808080808080ULL;
  uint64_t bs = w ^ (k_ones * '\\');
  return !(((w - k_ones * 0x20) & ~w & k_highs) | ((w + k_ones) & k_highs) | (w & k_highs) |
           ((bs - k_ones) & ~bs & k_highs));
}

// How many bytes at the start of s log_quote keeps as they are (0x20..0x7e
// except the backslash), eight at a time: a decision line quotes seven
// values of 10-60 bytes that nearly always are all printable.
size_t printable_prefix(std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const auto* p = b;
  const auto* end = p + s.size();
  uint64_t w;
  for (; end - p >= 8; p += 8) {
    std::memcpy(&w, p, 8);
    if (!printable_word(w)) break;
  }
  // Whole words all kept, and fewer than eight bytes left: the last eight
  // bytes as one word (overlapping what was checked), not one at a time.
  if (p < end && end - p < 8 && end - b >= 8) {
    std::memcpy(&w, end - 8, 8);
    if (printable_word(w)) return s.size();
  }
  for (; p < end && *p >= 0x20 && *p < 0x7f && *p != '\\'; ++p) {
  }
  return static_cast<size_t>(p - b);
}
}  // namespace

void log_quote_append(std::string& out, std::string_view s, size_t max) {
  static const char k_hex[] = "0123456789abcdef";
  size_t written = 0, i = 0;
  while (i < s.size()) {
    if (written >= max) {
      out += "...";
      break;
    }
    // A run of kept characters in one append, up to the limit.
    size_t run = std::min(printable_prefix(s.substr(i)), max - written);
    if (run > 0) {
      out.append(s.data() + i, run);
      written += run;
      i += run;
    } else {
      auto c = static_cast<unsigned char>(s[i++]);
      char esc[4] = {'\\', 'x', k_hex[c >> 4], k_hex[c & 15]};
      out.append(esc, 4);
      written += 4;
    }
  }
}

}  // namespace ppolicy
