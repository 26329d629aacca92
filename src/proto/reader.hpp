// SPDX-License-Identifier: GPL-2.0-or-later
// Streaming reader of the Postfix policy protocol: "name=value" lines up to
// an empty line. Bytes arrive in any split (one byte at a time, or several
// pipelined requests in one read); CRLF line ends are tolerated. Limits on
// line length, request size and attribute count protect the worker; input
// over them, NUL bytes, invalid UTF-8, lines without "=" and requests that
// are not request=smtpd_access_policy are errors, after which the
// connection is closed without a reply (Postfix then retries or applies its
// smtpd_policy_service_default_action).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proto/request.hpp"

namespace ppolicy {

struct ProtocolLimits {
  size_t max_line = 8192;
  size_t max_request = 65536;
  size_t max_attributes = 1024;
};

class RequestReader {
 public:
  enum class Status { need_more, complete, error };

  explicit RequestReader(const ProtocolLimits& limits) : d_limits(limits) {}
  void reset();
  void append(std::string_view data);
  // Parse the next complete request out of the buffered bytes. The
  // request's values point into the buffer: it is valid until the next
  // append() or reset().
  Status next(Request& request, std::string* why);
  // Bytes received but not yet part of a complete request.
  std::string_view pending() const { return std::string_view(d_buf).substr(d_off); }
  bool has_pending() const { return d_off < d_buf.size(); }

 private:
  Status fail(std::string* why, std::string msg);

  ProtocolLimits d_limits;
  std::string d_buf;
  size_t d_off = 0;        // start of the current request
  size_t d_scan = 0;       // where to continue parsing
  size_t d_attrs = 0;      // attributes of the current request so far
  size_t d_plain_end = 0;  // bytes before this are all plain ASCII (no NUL, none >= 0x80)
  bool d_request_seen = false;
};

}  // namespace ppolicy
