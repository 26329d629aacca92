// SPDX-License-Identifier: GPL-2.0-or-later
#include "proto/reader.hpp"

#include <cstring>

#include "base/strings.hpp"

namespace ppolicy {

void RequestReader::reset() {
  // A new connection: keep a buffer of ordinary size, not the largest a
  // hostile client made it grow to.
  if (d_buf.capacity() > 2 * 65536) std::string().swap(d_buf);
  d_buf.clear();
  d_off = d_scan = d_attrs = d_plain_end = 0;
  d_request_seen = false;
}

void RequestReader::append(std::string_view data) {
  // Drop consumed bytes first, so the buffer stays small.
  if (d_off > 0 && (d_off == d_buf.size() || d_off > 65536)) {
    d_buf.erase(0, d_off);
    d_scan -= d_off;
    d_plain_end = d_plain_end > d_off ? d_plain_end - d_off : 0;
    d_off = 0;
  }
  // One pass over what arrived tells whether all of it is plain ASCII (a
  // request from Postfix nearly always is); lines wholly within
  // [0, d_plain_end) need no check of their own.
  bool extend = d_plain_end == d_buf.size() && plain_ascii(data);
  d_buf.append(data);
  if (extend) d_plain_end = d_buf.size();
}

RequestReader::Status RequestReader::fail(std::string* why, std::string msg) {
  *why = std::move(msg);
  return Status::error;
}

RequestReader::Status RequestReader::next(Request& request, std::string* why) {
  if (d_scan == d_off) {
    request.clear();
    d_attrs = 0;
    d_request_seen = false;
  }
  while (true) {
    const char* base = d_buf.data();
    size_t end = d_buf.size();
    const void* nlp = d_scan < end ? std::memchr(base + d_scan, '\n', end - d_scan) : nullptr;
    if (!nlp) {
      // The buffer may move when more bytes come: the values parsed so far
      // must not point into it.
      request.keep_values();
      if (end - d_scan > d_limits.max_line)
        return fail(why, format("line longer than %zu bytes (max_line_length)", d_limits.max_line));
      if (end - d_off > d_limits.max_request)
        return fail(
            why, format("request larger than %zu bytes (max_request_size)", d_limits.max_request));
      return Status::need_more;
    }
    size_t nl = static_cast<size_t>(static_cast<const char*>(nlp) - base);
    std::string_view line(base + d_scan, nl - d_scan);
    d_scan = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > d_limits.max_line)
      return fail(why, format("line longer than %zu bytes (max_line_length)", d_limits.max_line));
    if (d_scan - d_off > d_limits.max_request)
      return fail(why,
                  format("request larger than %zu bytes (max_request_size)", d_limits.max_request));
    if (line.empty()) {
      if (d_attrs == 0) return fail(why, "empty request");
      if (!d_request_seen) return fail(why, "request without request=smtpd_access_policy");
      d_off = d_scan;
      return Status::complete;
    }
    // Nearly every line is plain ASCII (no NUL, no byte >= 0x80), known
    // from append() or else from one pass over the line; only other lines
    // are searched for NUL and checked as UTF-8.
    bool plain = nl <= d_plain_end || plain_ascii(line);
    if (!plain && std::memchr(line.data(), '\0', line.size()))
      return fail(why, "NUL byte in request");
    size_t expected = request.expected_name(line);
    auto eq = expected ? expected : line.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return fail(
          why, format("malformed line \"%s\" (expected name=value)", log_quote(line, 60).c_str()));
    if (!plain && !valid_utf8(line))
      return fail(why, format("invalid UTF-8 in \"%s\"", log_quote(line, 60).c_str()));
    if (++d_attrs > d_limits.max_attributes)
      return fail(why,
                  format("more than %zu attributes (max_attributes)", d_limits.max_attributes));
    std::string_view name = line.substr(0, eq), value = line.substr(eq + 1);
    if (name == "request") {
      if (value != "smtpd_access_policy")
        return fail(why, format("unsupported request type \"%s\"", log_quote(value, 60).c_str()));
      d_request_seen = true;
    }
    if (expected)
      request.set_expected(value);
    else
      request.set_sent(name, value);
  }
}

}  // namespace ppolicy
